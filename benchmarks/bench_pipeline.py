"""Pipeline benchmark: documents per second for each stage and end to end on the real corpus,
with ratios against the plain libraries each stage wraps. A script, not a test.

    python benchmarks/bench_pipeline.py [--corpus ../shared/corpus/docs] [--embed-sample N] [--skip-e2e]

Stages: fetch (hub Fetcher vs plain httpx, loopback, politeness off), extract (hub extractors vs
plain pdfminer.six extract_text / trafilatura.extract), chunk, embed (hub Embedder vs plain
SentenceTransformer.encode on the same passages), classify, index load, and the whole flow.

``--json PATH`` also writes the figures as flat JSON (benchmarks/results_io.py):
``<stage>_hub_per_s``, ``<stage>_plain_per_s`` and ``<stage>_ratio`` (plain seconds / hub
seconds: 1 = as fast as the plain library, higher = faster) for fetch, extract and embed;
``chunk_docs_per_s``, ``classify_docs_per_s``, ``index_load_docs_per_s``,
``e2e_docs_per_s`` (and its counts), ``e2e_overlap_ratio`` (seconds the embedding stage alone
needs for the flow's passages, estimated at the measured hub rate, over the flow's seconds: issue
9's ingest overlap figure, target >= 0.8), the same after start-up (``e2e_startup_seconds`` to the
first indexed document: Prefect's local server, the model, the first extraction;
``e2e_steady_overlap_ratio`` over the rest of the run) and peak memory (extraction workers and the Prefect server
count in ``peak_rss_children_mib``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from config import load_settings  # noqa: E402
from config.sources import Source  # noqa: E402
from core.models import IndexedDocument, content_hash, document_id  # noqa: E402
from crawl.fetch import Fetcher  # noqa: E402
from demo.server import StaticSite  # noqa: E402
from extractors import ExtractionError, extract  # noqa: E402
from index.chunking import chunk_pages  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402

console = Console()


class StageRows(list):
    """Rows of (stage, hub, plain library, ratio); each is printed as soon as it is measured, so a
    long or interrupted run still shows what it measured."""

    def append(self, row: tuple[str, str, str, str]) -> None:
        console.print(" | ".join(row))
        super().append(row)


def steady_state(index_path: Path, dimension: int, started: float) -> tuple[float, float, int] | None:
    """For a finished run into the embedded index at ``index_path`` that started at ``started``
    (epoch seconds): seconds to its first indexed document, seconds from the first to the last, and
    the passages (chunks + a title) of the documents after the first. None with fewer than 2."""
    from index.embedded import EmbeddedIndex

    index = EmbeddedIndex(index_path, dimension)
    try:
        done = sorted((index.get(d).indexed_at.timestamp(), d) for d in index.ids())
        if len(done) < 2:
            return None
        passages = sum(len(index.chunks_of(d)[0]) + int(bool(index.get(d).title)) for _, d in done[1:])
    finally:
        index.close()
    return done[0][0] - started, done[-1][0] - done[0][0], passages


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    """Measure every stage, print the table; returns the exit status (2: no corpus)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus/docs")
    parser.add_argument("--embed-sample", type=int, default=None,
                        help="passages for the embedding comparison (default: all; fewer gives a quicker, "
                             "biased estimate of the embedding-alone seconds)")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end flow run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args()
    report = JsonReport("pipeline", args.json)
    if not args.corpus.is_dir():
        console.print(f"[red]corpus folder not found: {args.corpus}[/red] (pass --corpus)")
        return 2
    home = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    settings = load_settings(home=str(home), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0,
                                                    "retries": 0})
    rows = StageRows()

    with StaticSite(args.corpus) as site:
        urls = site.urls()
        with Fetcher(settings.fetch) as fetcher:
            results, hub_s = timed(lambda: [fetcher.get(u) for u in urls])
        with httpx.Client() as client:
            _, plain_s = timed(lambda: [client.get(u).content for u in urls])
    n = len(urls)
    rows.append(("fetch (loopback)", f"{n / hub_s:.1f} docs/s", f"{n / plain_s:.1f} docs/s (httpx)",
                 f"{plain_s / hub_s:.2f}"))
    report.add("documents", n, "corpus documents served on 127.0.0.1")
    report.add("fetch_hub_per_s", n / hub_s, "hub Fetcher documents/s (one sequential pass, loopback)")
    report.add("fetch_plain_per_s", n / plain_s, "plain httpx documents/s (same URLs)")
    report.add("fetch_ratio", plain_s / hub_s, "fetch: plain seconds / hub seconds (1 = as fast)")

    bodies = [(r.final_url, r.content) for r in results]
    extracted, failures = [], 0

    def hub_extract():
        nonlocal failures
        for url, data in bodies:
            try:
                extracted.append((url, data, extract(data, url=url)))
            except ExtractionError:
                failures += 1

    _, hub_s = timed(hub_extract)

    def plain_extract():
        import trafilatura
        from pdfminer.high_level import extract_text

        for url, data in bodies:
            try:
                if data[:1024].find(b"%PDF-") >= 0:
                    import io
                    extract_text(io.BytesIO(data))
                else:
                    trafilatura.extract(data)
            except Exception:  # noqa: BLE001 - the plain library fails on the broken files
                pass

    _, plain_s = timed(plain_extract)
    pages = sum(doc.page_count or 1 for _, _, doc in extracted)
    rows.append(("extract", f"{n / hub_s:.2f} docs/s ({pages / hub_s:.1f} pages/s)",
                 f"{n / plain_s:.2f} docs/s (pdfminer/trafilatura)", f"{plain_s / hub_s:.2f}"))
    report.add("extract_hub_per_s", n / hub_s, "hub extractors documents/s")
    report.add("extract_hub_pages_per_s", pages / hub_s, "hub extractors pages/s")
    report.add("extract_plain_per_s", n / plain_s, "plain pdfminer.six extract_text / trafilatura.extract documents/s")
    report.add("extract_ratio", plain_s / hub_s, "extract: plain seconds / hub seconds (1 = as fast)")
    report.add("extract_failures", failures, "documents the hub could not extract")

    chunked, chunk_s = timed(lambda: [(url, data, doc, chunk_pages(doc.pages, max_words=settings.chunking.max_words,
                                       overlap_words=settings.chunking.overlap_words)) for url, data, doc in extracted])
    total_chunks = sum(len(c) for *_, c in chunked)
    rows.append(("chunk", f"{len(chunked) / chunk_s:.0f} docs/s", f"{total_chunks} chunks", "-"))
    report.add("chunk_docs_per_s", len(chunked) / chunk_s, "chunking documents/s")
    report.add("chunks", total_chunks, "chunks over the extracted documents")

    from index.embedding import Embedder

    embedder = Embedder(settings.embedding)
    sample = [c.text for *_, chunks in chunked for c in chunks][: args.embed_sample]
    embedder.encode(sample[:8])  # load and warm up
    _, hub_s = timed(lambda: embedder.encode(sample))
    _, plain_s = timed(lambda: embedder.model.encode(sample, batch_size=settings.embedding.batch_size))
    per_doc = total_chunks / max(1, len(chunked))
    embed_rate = len(sample) / hub_s  # hub passages/s
    rows.append(("embed", f"{len(sample) / hub_s:.1f} passages/s (≈{len(sample) / hub_s / per_doc:.2f} docs/s)",
                 f"{len(sample) / plain_s:.1f} passages/s (SentenceTransformer)", f"{plain_s / hub_s:.2f}"))
    report.add("embed_passages", len(sample), "passages in the embedding comparison")
    report.add("embed_hub_per_s", len(sample) / hub_s, "hub Embedder passages/s")
    report.add("embed_plain_per_s", len(sample) / plain_s, "plain SentenceTransformer.encode passages/s")
    report.add("embed_ratio", plain_s / hub_s, "embed: plain seconds / hub seconds (1 = as fast)")

    from classify.classifier import TaxonomyClassifier
    from config.taxonomy import load_taxonomy
    from index.embedded import EmbeddedIndex

    classifier = TaxonomyClassifier(load_taxonomy(settings.taxonomy_file), embedder, settings.classification.model_copy(update={"method": "zero_shot"}))
    small = [(u, d, doc, c[:40]) for u, d, doc, c in chunked]  # first 40 chunks a document keeps this short
    vectors = [embedder.encode([x.text for x in c], "document") for *_, c in small]
    _, classify_s = timed(lambda: [classifier.classify([x.text for x in c], v) for (*_, c), v in zip(small, vectors)])
    rows.append(("classify", f"{len(small) / classify_s:.1f} docs/s", "-", "-"))
    report.add("classify_docs_per_s", len(small) / classify_s, "zero-shot classification documents/s (first 40 chunks)")

    index = EmbeddedIndex(home / "bench-index.sqlite", embedder.dimension)

    def load():
        for (url, data, doc, chunks), v in zip(small, vectors):
            record = IndexedDocument(id=document_id(url), url=url, source="bench", content_hash=content_hash(data),
                                     title=doc.title, text=doc.text)
            index.upsert(record, chunks, v)

    _, load_s = timed(load)
    rows.append(("index load", f"{len(small) / load_s:.1f} docs/s", f"{sum(len(c) for *_, c in small) / load_s:.0f} chunks/s", "-"))
    index.close()
    report.add("index_load_docs_per_s", len(small) / load_s, "embedded index upsert documents/s")

    if not args.skip_e2e:
        from flows.ingest import run_ingest

        e2e_settings = load_settings(home=str(home / "e2e"), fetch={"allow_networks": ["127.0.0.1/32"],
                                                                    "min_delay_s": 0.0})
        with StaticSite(args.corpus) as site:
            source = Source(name="bench", kind="sitemap", url=site.base_url + "/sitemap.xml")
            started = time.time()
            summary, e2e_s = timed(lambda: run_ingest([source], e2e_settings))
        rows.append(("end to end (flow)", f"{summary.discovered / e2e_s:.2f} docs/s",
                     f"{summary.indexed} indexed, {summary.failed} failed in {e2e_s:.0f} s", "-"))
        report.add("e2e_docs_per_s", summary.discovered / e2e_s, "end to end (Prefect flow) documents/s")
        report.add("e2e_indexed", summary.indexed, "documents indexed end to end")
        report.add("e2e_failed", summary.failed, "documents failed end to end")
        report.add("e2e_seconds", e2e_s, "wall seconds of the end-to-end flow")
        # the embedding stage alone: every passage the flow embeds (chunks up to max_chunks per
        # document, plus one title per document) at the hub Embedder's measured passages/s
        passages = sum(min(len(c), settings.chunking.max_chunks) + 1 for *_, c in chunked)
        embed_alone_s = passages / embed_rate
        rows.append(("end to end / embedding alone", f"{embed_alone_s / e2e_s:.2f}",
                     f"embedding alone ≈ {embed_alone_s:.0f} s for {passages} passages", "-"))
        report.add("e2e_embed_alone_seconds", embed_alone_s,
                   "seconds the embedding stage alone needs for the flow's passages (at the measured rate)")
        report.add("e2e_overlap_ratio", embed_alone_s / e2e_s,
                   "embedding-alone seconds / end-to-end seconds (1 = ingest as fast as embedding alone; "
                   "target >= 0.8: fetch, extraction and loading hidden behind embedding)")
        steady = steady_state(e2e_settings.index_path, embedder.dimension, started)
        if steady is not None:
            start_s, steady_s, steady_passages = steady
            steady_ratio = steady_passages / embed_rate / steady_s
            rows.append(("… after start-up", f"{steady_ratio:.2f}",
                         f"first document indexed after {start_s:.0f} s; the rest in {steady_s:.0f} s", "-"))
            report.add("e2e_startup_seconds", start_s, "seconds from the flow's start to its first indexed document "
                       "(Prefect's local server, model, label profiles, discovery, the first extraction)")
            report.add("e2e_steady_seconds", steady_s, "seconds from the first to the last indexed document")
            report.add("e2e_steady_overlap_ratio", steady_ratio,
                       "embedding-alone seconds / seconds of the run after its first indexed document (the "
                       "passages of the documents indexed after the first one)")

    table = Table(title=f"Evidence Hub pipeline on {n} corpus documents ({failures} not extractable)")
    for column in ("stage", "hub", "plain library", "hub / plain"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
                  f"chunks: {total_chunks}; embedding sample: {len(sample)} passages")
    report.write(parser, args, ignore=("json",))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
