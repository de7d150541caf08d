"""Index benchmark: both backends side by side on synthetic corpora (benchmarks/synthetic.py).
A script, not a test.

    python benchmarks/bench_index.py [--sizes 10000 100000] [--opensearch-url URL]
                                     [--queries 100] [--warmup 10] [--json-out FILE] [--json FILE]

For each size and backend (embedded SQLite; OpenSearch when a URL is given, default
``$EVIDENCE_HUB_OPENSEARCH_URL``) it reports:

* load throughput (docs/s and chunks/s) through ``upsert_many`` in batches of ``--batch`` (500)
  documents; only the ``upsert_many`` calls are timed, not the generation of the documents;
* query latency p50/p95 in ms for bm25, semantic and hybrid, each without and with filters
  (``--queries`` timed queries after ``--warmup`` untimed ones, ``limit`` 10), and the mean
  number of hits (a filter that empties every result would make a latency meaningless);
* the same for the query-model features: bm25 and hybrid asking for six facets (``+facets``),
  bm25 sorted by date (``by date``) and more-like-this (``similar``, on ``--queries`` loaded
  documents);
* the peak RSS of the process that loaded and queried the index (``resource.getrusage``; every
  backend/size runs in its own spawned process so the figures do not mix); for OpenSearch also the
  node's RSS after the run (read from ``/proc`` when the node runs on this machine) and the size of
  its indices;
* for OpenSearch: the hub's loader (``upsert_many`` -> ``bulk_load``, with its per-batch existence
  check and refresh) against plain ``opensearchpy.helpers.bulk`` on the same actions (the action
  bodies ``upsert_many`` sends, built by the same code; one refresh at the end), each into its own
  scratch prefix with the same mappings, over the first ``--ratio-docs`` documents (default 10000),
  batch by batch interleaved so both see the same machine load. Both timings include building the
  actions. Ratio = hub docs/s / plain docs/s (target >= 0.9). The scratch indices are deleted
  before the main load.

OpenSearch indices use a unique prefix (``bench-<random>``) and are deleted at the end; the
embedded index lives in a temporary folder. ``--load-timeout`` stops a load after that many
seconds and reports the partial figures (queries then run on what was loaded).

``--json-out FILE`` writes the nested per-run results; ``--json FILE`` the same figures flat
(benchmarks/results_io.py), named ``<backend>_<size>_<figure>``: ``load_docs_per_s``,
``load_chunks_per_s``, ``load_complete``, ``<query>_p50_ms`` / ``<query>_p95_ms`` (query:
``bm25``, ``bm25_filters``, ``semantic``, ``semantic_filters``, ``hybrid``, ``hybrid_filters``,
``bm25_facets``, ``hybrid_facets``, ``bm25_by_date``, ``similar``), ``peak_rss_mib`` (the child
process that loaded and queried), ``index_mib``; for OpenSearch also ``node_rss_mib``,
``hub_vs_plain_ratio`` and ``opensearch_version``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.synthetic import DIMENSION, document, generate, queries  # noqa: E402
from index.query import SearchFilters, SearchQuery  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
MODES = ("bm25", "semantic", "hybrid")
FACETED = ["policy_area", "theme", "evidence_type", "publisher", "year", "doc_type"]  # the +facets rows
FEATURES = ("bm25+facets", "hybrid+facets", "bm25 by date", "similar")


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(size: int, batch: int, seed: int, start: int = 0) -> Iterator[list]:
    """Synthetic documents ``start .. size-1`` in lists of ``batch``."""
    items: list = []
    for item in generate(size - start, seed=seed, start=start):
        items.append(item)
        if len(items) == batch:
            yield items
            items = []
    if items:
        yield items


def _say(label: str, message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] [bold]{label}[/bold] {message}")


def load(label: str, upsert_many: Callable[[list], None], size: int, batch: int, seed: int,
         timeout_s: float | None) -> dict:
    """Load ``size`` synthetic documents through ``upsert_many`` in batches; time only the calls.

    Returns ``{"docs", "chunks", "seconds", "docs_per_s", "chunks_per_s", "complete"}``; with
    ``timeout_s`` the load stops after that many wall seconds (``complete`` False)."""
    docs = chunks = 0
    seconds = 0.0
    next_report = max(size // 10, batch)
    started = time.perf_counter()
    complete = True
    for items in _batches(size, batch, seed):
        t0 = time.perf_counter()
        upsert_many(items)
        seconds += time.perf_counter() - t0
        docs += len(items)
        chunks += sum(len(c) for _, c, _, _ in items)
        if docs >= next_report or docs == size:
            _say(label, f"loaded {docs:,}/{size:,} docs, {docs / seconds:,.0f} docs/s "
                        f"(wall {time.perf_counter() - started:,.0f} s)")
            next_report += max(size // 10, batch)
        if timeout_s is not None and time.perf_counter() - started > timeout_s and docs < size:
            _say(label, f"[yellow]load stopped after {timeout_s:.0f} s at {docs:,} docs (--load-timeout)[/yellow]")
            complete = False
            break
    return {"docs": docs, "chunks": chunks, "seconds": round(seconds, 3),
            "docs_per_s": round(docs / seconds, 1) if seconds else None,
            "chunks_per_s": round(chunks / seconds, 1) if seconds else None,
            "complete": complete}


def _timed(label: str, name: str, calls: list[Callable[[], Any]], warmup: int) -> dict:
    """Run ``calls`` (each returns a SearchResponse) in order; p50/p95/mean latency (ms) and the
    mean number of hits of all but the first ``warmup``."""
    latencies, hits = [], []
    for i, call in enumerate(calls):
        t0 = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            latencies.append(elapsed)
            hits.append(len(response.hits))
    lat = np.array(latencies)
    out = {"p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2),
           "mean_ms": round(float(lat.mean()), 2), "mean_hits": round(float(np.mean(hits)), 2), "n": len(latencies)}
    _say(label, f"{name:<17} p50 {out['p50_ms']:8.1f} ms  p95 {out['p95_ms']:8.1f} ms  hits {out['mean_hits']:.1f}")
    return out


def measure_queries(label: str, index: Any, n_queries: int, warmup: int, seed: int, loaded: int) -> dict:
    """p50/p95/mean latency (ms) and mean hits for every mode, without and with filters; then the
    query-model features (:data:`FEATURES`): bm25 and hybrid with six facets, bm25 sorted by date,
    and more-like-this (``similar``) on ``n_queries`` of the ``loaded`` documents."""
    qs = queries(warmup + n_queries, seed=seed + 1, corpus_seed=seed)
    out: dict[str, dict] = {}
    for mode in MODES:
        for filtered in (False, True):
            name = f"{mode}{'+filters' if filtered else ''}"
            calls = [lambda t=text, v=vector, f=filters: index.search(
                SearchQuery(text=t, mode=mode, filters=f if filtered else SearchFilters(), limit=10),
                v if mode != "bm25" else None) for text, vector, filters in qs]
            out[name] = _timed(label, name, calls, warmup)
    for mode in ("bm25", "hybrid"):
        calls = [lambda t=text, v=vector: index.search(
            SearchQuery(text=t, mode=mode, limit=10, facets=FACETED), v if mode != "bm25" else None)
            for text, vector, _ in qs]
        out[f"{mode}+facets"] = _timed(label, f"{mode}+facets", calls, warmup)
    out["bm25 by date"] = _timed(label, "bm25 by date", [
        lambda t=t: index.search(SearchQuery(text=t, mode="bm25", limit=10, sort="date")) for t, _, _ in qs],
        warmup)
    picks = [document((k * 7919) % max(loaded, 1), seed)[0].id for k in range(len(qs))]
    out["similar"] = _timed(label, "similar", [lambda d=d: index.similar(d, limit=10) for d in picks], warmup)
    return out


# -- one backend at one size (runs in its own process) -------------------------------------------

def run_embedded(size: int, opts: dict) -> dict:
    """Load and query the embedded backend in a temporary folder."""
    from index.embedded import EmbeddedIndex

    label = f"embedded {size:,}"
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as folder:
        index = EmbeddedIndex(Path(folder) / "index.sqlite", dimension=DIMENSION)
        try:
            loaded = load(label, index.upsert_many, size, opts["batch"], opts["seed"], opts["load_timeout"])
            stats = index.stats()
            latencies = measure_queries(label, index, opts["queries"], opts["warmup"], opts["seed"], loaded["docs"])
        finally:
            index.close()
    return {"backend": "embedded", "size": size, "load": loaded, "queries": latencies,
            "index_mb": round(stats["bytes"] / 2**20, 1), "peak_rss_mb": round(_peak_rss_mb(), 1)}


def _node_rss_mb(client) -> float | None:
    """RSS (MiB) of the OpenSearch node when it runs on this machine (from /proc), else None."""
    try:
        for node in client.nodes.info(metric="process")["nodes"].values():
            pid = node["process"]["id"]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except Exception:  # noqa: BLE001 - a remote node, or /proc unreadable: no figure
        return None
    return None


def _store_mb(client, prefix: str) -> float:
    stats = client.indices.stats(index=f"{prefix}-*", metric="store")
    return round(stats["_all"]["primaries"]["store"]["size_in_bytes"] / 2**20, 1)


def drop_prefix(url: str, prefix: str, label: str) -> str | None:
    """Delete every index named ``{prefix}-*``, by name, with long timeouts (a 2-core node busy
    merging a large HNSW index can take minutes to apply a delete; the default 30 s cluster-manager
    timeout then fails with 503). Returns None, or the error when some index could not be deleted
    (reported, never raised: cleanup must not lose the figures)."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url], timeout=900, max_retries=0)
    try:
        for attempt in range(3):
            try:
                names = sorted(client.indices.get(index=f"{prefix}-*", allow_no_indices=True))
                for name in names:
                    client.indices.delete(index=name, ignore_unavailable=True, cluster_manager_timeout="10m",
                                          timeout="10m", request_timeout=900)
                return None
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                error = f"{type(exc).__name__}: {exc}"[:500]
                _say(label, f"[yellow]deleting {prefix}-* failed (try {attempt + 1}/3): {error}[/yellow]")
                time.sleep(10)
        return error
    finally:
        client.close()


def compare_loaders(label: str, url: str, prefix: str, docs: int, opts: dict) -> dict:
    """The hub's loader against plain ``opensearchpy.helpers.bulk`` on the first ``docs`` documents.

    Two scratch prefixes with the hub's mappings; the same batches go to both, interleaved batch by
    batch (alternating which goes first) so that both see the same machine load, JIT state and
    index sizes. Hub: ``upsert_many`` (``bulk_load``, existence check, per-batch refresh). Plain:
    the very action bodies ``upsert_many`` sends (built by the same code, timed too), sent with
    ``helpers.bulk(chunk_size=500)``, one refresh at the end. Both prefixes are deleted after."""
    from opensearchpy import helpers

    from index.opensearch import OpenSearchIndex

    hub = OpenSearchIndex(hosts=[url], dimension=DIMENSION, index_prefix=f"{prefix}-ratio-hub", timeout_s=120)
    plain = OpenSearchIndex(hosts=[url], dimension=DIMENSION, index_prefix=f"{prefix}-ratio-plain", timeout_s=120)
    try:
        hub_s = plain_s = 0.0
        loaded = 0

        def send_plain(items: list) -> float:
            t0 = time.perf_counter()
            actions = [a for doc, chunks, vectors, title in items
                       for a in plain._actions(doc, chunks, vectors, title)[0]]  # same bodies as upsert_many
            helpers.bulk(plain.client, actions, chunk_size=500, request_timeout=120)
            return time.perf_counter() - t0

        def send_hub(items: list) -> float:
            t0 = time.perf_counter()
            hub.upsert_many(items)
            return time.perf_counter() - t0

        for n, items in enumerate(_batches(docs, opts["batch"], opts["seed"])):
            if n % 2 == 0:
                plain_s += send_plain(items)
                hub_s += send_hub(items)
            else:
                hub_s += send_hub(items)
                plain_s += send_plain(items)
            loaded += len(items)
            if loaded % max(docs // 5, opts["batch"]) == 0 or loaded == docs:
                _say(label, f"loader comparison {loaded:,}/{docs:,}: hub {loaded / hub_s:,.0f} docs/s, "
                            f"plain {loaded / plain_s:,.0f} docs/s")
        t0 = time.perf_counter()
        plain.client.indices.refresh(index=f"{plain.documents_alias},{plain.chunks_alias}")
        plain_s += time.perf_counter() - t0
        assert hub.count() == plain.count() == loaded, (hub.count(), plain.count(), loaded)
        assert hub.chunk_count() == plain.chunk_count()
        out = {"docs": loaded, "hub_s": round(hub_s, 2), "plain_s": round(plain_s, 2),
               "hub_docs_per_s": round(loaded / hub_s, 1), "plain_docs_per_s": round(loaded / plain_s, 1),
               "ratio": round(plain_s / hub_s, 3)}
        _say(label, f"hub / plain helpers.bulk = {out['ratio']:.2f} ({out['hub_docs_per_s']:,.0f} vs "
                    f"{out['plain_docs_per_s']:,.0f} docs/s on {loaded:,} docs)")
        return out
    finally:
        for scratch in (hub, plain):
            scratch.close()
        drop_prefix(url, f"{prefix}-ratio", label)


def run_opensearch(size: int, opts: dict) -> dict:
    """Compare the loaders on scratch indices, then load and query with the hub."""
    from index.opensearch import OpenSearchIndex

    url = opts["opensearch_url"]
    label = f"opensearch {size:,}"
    prefix = f"bench-{uuid4().hex[:8]}"
    result: dict[str, Any] = {"backend": "opensearch", "size": size, "prefix": prefix}
    ratio_docs = min(size, opts["ratio_docs"]) if opts["ratio_docs"] else 0
    index = None
    try:
        if ratio_docs:
            result["hub_vs_plain"] = compare_loaders(label, url, prefix, ratio_docs, opts)
        index = OpenSearchIndex(hosts=[url], dimension=DIMENSION, index_prefix=f"{prefix}-hub", timeout_s=120)
        loaded = load(label, index.upsert_many, size, opts["batch"], opts["seed"], opts["load_timeout"])
        result["load"] = loaded
        assert index.count() == loaded["docs"], (index.count(), loaded["docs"])
        segments = index.client.indices.segments(index=index.chunks_alias)
        result["chunk_segments"] = sum(len(shard["segments"]) for info in segments["indices"].values()
                                       for copies in info["shards"].values() for shard in copies)
        result["queries"] = measure_queries(label, index, opts["queries"], opts["warmup"], opts["seed"],
                                            loaded["docs"])
        result["index_mb"] = _store_mb(index.client, index.prefix)
        result["node_rss_mb"] = _node_rss_mb(index.client)
        result["opensearch_version"] = index.client.info()["version"]["number"]
        result["node_heap_max_mb"] = round(sum(
            n["jvm"]["mem"]["heap_max_in_bytes"]
            for n in index.client.nodes.stats(metric="jvm")["nodes"].values()) / 2**20, 1)
    finally:
        if index is not None:
            index.close()
        error = drop_prefix(url, prefix, label)
        if error:
            result["cleanup_error"] = error
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def run_one(backend: str, size: int, opts: dict) -> dict:
    """Entry point of a child process: one backend at one size."""
    console.print(f"\n[bold cyan]== {backend}, {size:,} documents ==[/bold cyan]")
    started = time.perf_counter()
    result = run_embedded(size, opts) if backend == "embedded" else run_opensearch(size, opts)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


# -- report --------------------------------------------------------------------------------------

def _fmt(value: Any, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def table(results: list[dict]) -> Table:
    """One column per backend and size, one row per figure."""
    out = Table(title="Evidence Hub index benchmark (synthetic corpus, dimension 384)")
    out.add_column("figure")
    for r in results:
        partial = "" if r.get("load", {}).get("complete", True) else " (partial)"
        out.add_column(f"{r['backend']}\n{r['size']:,} docs{partial}", justify="right")

    def row(name: str, get: Callable[[dict], str]) -> None:
        out.add_row(name, *[get(r) for r in results])

    row("documents loaded", lambda r: _fmt(r["load"]["docs"]))
    row("chunks loaded", lambda r: _fmt(r["load"]["chunks"]))
    row("load time (s)", lambda r: _fmt(r["load"]["seconds"], ",.1f"))
    row("load docs/s", lambda r: _fmt(r["load"]["docs_per_s"]))
    row("load chunks/s", lambda r: _fmt(r["load"]["chunks_per_s"]))
    for mode in MODES:
        for suffix in ("", "+filters"):
            name = mode + suffix
            row(f"{name} p50 / p95 (ms)",
                lambda r, n=name: f"{r['queries'][n]['p50_ms']:,.1f} / {r['queries'][n]['p95_ms']:,.1f}")
    for name in FEATURES:
        row(f"{name} p50 / p95 (ms)",
            lambda r, n=name: f"{r['queries'][n]['p50_ms']:,.1f} / {r['queries'][n]['p95_ms']:,.1f}"
            if n in r["queries"] else "—")
    row("mean hits (no filter / filter)", lambda r: " / ".join(
        f"{np.mean([r['queries'][m + s]['mean_hits'] for m in MODES]):.1f}" for s in ("", "+filters")))
    row("peak RSS, bench process (MiB)", lambda r: _fmt(r["peak_rss_mb"]))
    row("node RSS after run (MiB)", lambda r: _fmt(r.get("node_rss_mb")))
    row("index size (MiB)", lambda r: _fmt(r.get("index_mb"), ",.1f"))
    row("chunk segments after load", lambda r: _fmt(r.get("chunk_segments")))
    row("plain helpers.bulk docs/s", lambda r: _fmt(r.get("hub_vs_plain", {}).get("plain_docs_per_s")))
    row("hub loader docs/s (same docs)", lambda r: _fmt(r.get("hub_vs_plain", {}).get("hub_docs_per_s")))
    row("hub / plain (target ≥ 0.9)", lambda r: _fmt(r.get("hub_vs_plain", {}).get("ratio"), ".2f")
        + (f" on {r['hub_vs_plain']['docs']:,}" if r.get("hub_vs_plain") else ""))
    row("wall time (s)", lambda r: _fmt(r["wall_s"], ",.0f"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run every backend at every size (each in its own process), print the
    table and write the JSON. Returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--opensearch-url", default=os.environ.get("EVIDENCE_HUB_OPENSEARCH_URL"),
                        help="OpenSearch URL (default $EVIDENCE_HUB_OPENSEARCH_URL); none: embedded only")
    parser.add_argument("--backends", nargs="+", choices=["embedded", "opensearch"],
                        default=["embedded", "opensearch"])
    parser.add_argument("--batch", type=int, default=500, help="documents per upsert_many call")
    parser.add_argument("--queries", type=int, default=100, help="timed queries per mode and filter setting")
    parser.add_argument("--warmup", type=int, default=10, help="untimed queries before them")
    parser.add_argument("--ratio-docs", type=int, default=10_000,
                        help="documents for the hub-vs-plain helpers.bulk comparison (0: skip)")
    parser.add_argument("--load-timeout", type=float, default=None,
                        help="stop a load after this many seconds and report the partial figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    backends = list(args.backends)
    if "opensearch" in backends and not args.opensearch_url:
        console.print("[yellow]No OpenSearch URL (--opensearch-url or EVIDENCE_HUB_OPENSEARCH_URL): "
                      "running the embedded backend only.[/yellow]")
        backends.remove("opensearch")
    if not backends:
        console.print("[red]nothing to run[/red]")
        return 2
    opts = {k: getattr(args, k) for k in ("batch", "queries", "warmup", "ratio_docs", "load_timeout", "seed",
                                          "opensearch_url")}
    results: list[dict] = []
    failures: list[str] = []
    for size in args.sizes:
        for backend in backends:
            # a fresh process per run: its peak RSS is that run's alone
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                try:
                    results.append(pool.submit(run_one, backend, size, opts).result())
                except Exception as exc:  # noqa: BLE001 - report and carry on with the other runs
                    failures.append(f"{backend} {size:,}: {type(exc).__name__}: {exc}")
                    console.print(f"[red]{failures[-1]}[/red]")
    if results:
        console.print()
        console.print(table(results))
    for r in results:
        if r.get("cleanup_error"):
            console.print(f"[yellow]{r['backend']} {r['size']:,}: indices {r['prefix']}-* may be left over: "
                          f"{r['cleanup_error']}[/yellow]")
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
               "numpy": np.__version__}
    console.print(f"machine: {machine['cpus']} cores, python {machine['python']}, {machine['platform']}; "
                  f"{args.queries} timed queries per row after {args.warmup} warm-up, limit 10")
    if args.json_out:
        args.json_out.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                      for k, v in vars(args).items()},
                                             "machine": machine, "results": results, "failures": failures},
                                            indent=2, default=str))
        console.print(f"figures written to {args.json_out}")
    flat_report(results, failures, args.json, started).write(parser, args, ignore=("json", "json_out", "opensearch_url"))
    return 1 if failures else 0


def flat_report(results: list[dict], failures: list[str], path: Path | None,
                started: float | None = None) -> JsonReport:
    """The nested per-run ``results`` as flat figures ``<backend>_<size>_<figure>`` (see the module
    docstring) in a :class:`JsonReport` for ``path``; ``started`` is the ``time.perf_counter()``
    at which the benchmark began (for its wall time)."""
    report = JsonReport("index", path)
    if started is not None:
        report.started = started
    report.add("failures", "; ".join(failures) or None, "runs that failed (backend size: error)")
    for r in results:
        key, what = f"{r['backend']}_{r['size']}", f"{r['backend']}, {r['size']:,} synthetic docs"
        report.add(f"{key}_load_docs_per_s", r["load"]["docs_per_s"], f"load documents/s (upsert_many), {what}")
        report.add(f"{key}_load_chunks_per_s", r["load"]["chunks_per_s"], f"load chunks/s, {what}")
        report.add(f"{key}_load_docs", r["load"]["docs"], f"documents loaded, {what}")
        report.add(f"{key}_load_complete", r["load"]["complete"], f"whether the whole load finished, {what}")
        for name, figures in r.get("queries", {}).items():
            flat = name.replace("+", "_").replace(" ", "_")
            for stat in ("p50_ms", "p95_ms"):
                report.add(f"{key}_{flat}_{stat}", figures[stat], f"{name} query latency {stat[:3]} (ms), {what}")
            report.add(f"{key}_{flat}_mean_hits", figures["mean_hits"], f"{name} mean hits (limit 10), {what}")
        report.add(f"{key}_peak_rss_mib", r.get("peak_rss_mb"), f"peak RSS of the loading/querying process (MiB), {what}")
        report.add(f"{key}_index_mib", r.get("index_mb"), f"index size on disk (MiB), {what}")
        report.add(f"{key}_wall_s", r.get("wall_s"), f"wall seconds of the run, {what}")
        if r["backend"] == "opensearch":
            report.add(f"{key}_node_rss_mib", r.get("node_rss_mb"), f"OpenSearch node RSS after the run (MiB), {what}")
            ratio = r.get("hub_vs_plain", {})
            report.add(f"{key}_hub_vs_plain_ratio", ratio.get("ratio"),
                       f"hub loader / plain helpers.bulk throughput on {ratio.get('docs')} docs (target >= 0.9)")
            report.add("opensearch_version", r.get("opensearch_version"), "OpenSearch node version")
    return report


if __name__ == "__main__":
    sys.exit(main())
