"""Retrieval on public IR test collections (SciFact, CISI) through the whole hub, with published
baselines beside ours. A script, not a test; prints figures, asserts nothing.

    python benchmarks/bench_ir.py [--ir ../shared/ir] [--collection scifact --collection cisi]
                                  [--subset N] [--home DIR] [--json PATH]

For each collection (a BEIR-form folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``):

1. ingests ``corpus.jsonl`` as a ``jsonl`` source (:mod:`crawl.jsonl`) through the real Prefect
   flow ``flows.ingest.run_ingest`` (chunking, embedding with the configured model, classification,
   embedded SQLite index, registry) into a fresh data directory, and times it;
2. runs the hub's own command on that index, as a user would, with ``EVIDENCE_HUB_HOME`` set::

       evidence-hub eval search --queries queries.jsonl --qrels qrels/<split>.tsv --json

   for bm25, semantic and hybrid (nDCG@10 and recall@100 by ir-measures);
3. prints a table with the published baselines beside ours.

Splits: SciFact has only ``qrels/train.tsv`` here (809 claims; its test qrels are held out), CISI
only ``qrels/dev.tsv`` (39 odd-id queries; see its PROVENANCE.md). The published SciFact figures
are on the 300 BEIR *test* claims, so they are orientation, not a like-for-like comparison.

``--subset N`` ingests only the first N corpus records and keeps only the judgments (and queries)
whose relevant documents are among them: a quick check of the plumbing, with figures that are not
comparable to the full run (a smaller corpus is an easier one).

``--json PATH`` writes flat figures (benchmarks/results_io.py), per collection ``<c>`` (``scifact``,
``cisi``) and mode ``<m>`` (``bm25``, ``semantic``, ``hybrid``):

* ``<c>_<m>_ndcg10``, ``<c>_<m>_recall100`` — ours, mean over judged queries (0-1);
* ``<c>_<m>_baseline_ndcg10`` — a published nDCG@10 for that kind of model or null when there is
  none, and ``<c>_<m>_baseline_source`` — where it comes from (string);
* ``<c>_bm25_baseline_recall100`` — a published recall@100 for BM25 or null;
* ``<c>_split`` (string), ``<c>_queries`` (judged queries scored), ``<c>_docs`` (corpus records
  ingested), ``<c>_indexed``, ``<c>_failed``, ``<c>_ingest_seconds``, ``<c>_ingest_docs_per_s``
  (records ingested per wall second, end to end: discovery, chunking, embedding, classification,
  index load);
* ``omp_num_threads`` (string or null: torch's intra-op threads as set by the environment; on a
  shared 2-core machine ``OMP_NUM_THREADS=1`` was about 5 times faster per encode than torch's 2);
* peak memory and the run's context as every benchmark writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import hub_json, set_bench_environment  # noqa: E402

set_bench_environment()

from benchmarks.results_io import JsonReport  # noqa: E402

MODES = ("bm25", "semantic", "hybrid")

#: published reference figures: collection -> mode -> (nDCG@10 or None, recall@100 or None, source)
BASELINES: dict[str, dict[str, tuple[float | None, float | None, str]]] = {
    "scifact": {
        "bm25": (0.665, 0.9076, "BEIR paper (Thakur et al. 2021, arXiv 2104.08663, Table 2), BM25, test split; "
                                "R@100 from Anserini BEIR multifield regression (test)"),
        "semantic": (0.645, None, "all-MiniLM-L6-v2 on MTEB SciFact (test), as quoted by MTEB/SBERT; "
                                  "not re-checked"),
        "hybrid": (None, None, "none published for this model pair"),
    },
    "cisi": {
        "bm25": (None, None, "none published for this split (PROVENANCE.md: an unpublished simple BM25 run "
                             "gave nDCG@10 0.24 on dev, for orientation only)"),
        "semantic": (None, None, "none published"),
        "hybrid": (None, None, "none published"),
    },
}
SPLITS = {"scifact": "train", "cisi": "dev"}


def subset_collection(folder: Path, split: str, n: int, into: Path) -> tuple[Path, Path, Path]:
    """Write the first ``n`` records of ``folder/corpus.jsonl`` and the judgments (and queries)
    that point into them under ``into``; returns (corpus, queries, qrels) paths."""
    into.mkdir(parents=True, exist_ok=True)
    kept: set[str] = set()
    with (folder / "corpus.jsonl").open(encoding="utf-8") as src, (into / "corpus.jsonl").open("w",
                                                                                             encoding="utf-8") as dst:
        for line in src:
            if len(kept) >= n:
                break
            if line.strip():
                kept.add(str(json.loads(line)["_id"]))
                dst.write(line)
    rows = (folder / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    judged = [rows[0]] + [r for r in rows[1:] if r.split("\t")[1] in kept]
    (into / "qrels.tsv").write_text("\n".join(judged) + "\n", encoding="utf-8")
    queries = {r.split("\t")[0] for r in judged[1:]}
    with (folder / "queries.jsonl").open(encoding="utf-8") as src, (into / "queries.jsonl").open("w",
                                                                                               encoding="utf-8") as dst:
        dst.writelines(line for line in src if line.strip() and str(json.loads(line)["_id"]) in queries)
    return into / "corpus.jsonl", into / "queries.jsonl", into / "qrels.tsv"


def run_collection(name: str, folder: Path, subset: int | None, home: Path, report: JsonReport) -> dict:
    """Ingest, evaluate and record one collection; returns ``{mode: {"ndcg@10", "recall@100", ...}}``."""
    from config import load_settings
    from config.sources import Source, SourceLimits
    from flows.ingest import run_ingest

    split = SPLITS[name]
    corpus, queries, qrels = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"
    if subset:
        corpus, queries, qrels = subset_collection(folder, split, subset, home / "subset")
    settings = load_settings(home=str(home))
    source = Source(name=name, kind="jsonl", path=corpus, limits=SourceLimits(max_documents=10_000_000))
    started = time.perf_counter()
    summary = run_ingest([source], settings)
    seconds = time.perf_counter() - started
    docs = summary.discovered
    print(f"{name}: {docs} records, {summary.indexed} indexed, {summary.failed} failed in {seconds:.0f} s "
          f"({docs / seconds:.1f} docs/s)")
    for failure in summary.failures[:5]:
        print(f"  failed: {failure.url} {failure.reason}")
    report.add(f"{name}_split", split, f"{name}: qrels split evaluated")
    report.add(f"{name}_docs", docs, f"{name}: corpus records ingested")
    report.add(f"{name}_indexed", summary.indexed, f"{name}: records indexed")
    report.add(f"{name}_failed", summary.failed, f"{name}: records or lines that failed")
    report.add(f"{name}_ingest_seconds", seconds, f"{name}: wall seconds of the ingest flow")
    report.add(f"{name}_ingest_docs_per_s", docs / seconds, f"{name}: records/s end to end (discovery to index)")
    figures = hub_json(home, "eval", "search", "--queries", str(queries), "--qrels", str(qrels))
    for mode in MODES:
        ours = figures[mode]
        baseline_ndcg, baseline_recall, where = BASELINES[name][mode]
        report.add(f"{name}_{mode}_ndcg10", ours["ndcg@10"], f"{name} {split}: {mode} mean nDCG@10 (0-1)")
        report.add(f"{name}_{mode}_recall100", ours["recall@100"], f"{name} {split}: {mode} mean recall@100 (0-1)")
        report.add(f"{name}_{mode}_baseline_ndcg10", baseline_ndcg, f"{name}: published {mode} nDCG@10 (0-1) or null")
        report.add(f"{name}_{mode}_baseline_source", where, f"{name}: where the {mode} baseline comes from")
        if mode == "bm25":
            report.add(f"{name}_bm25_baseline_recall100", baseline_recall,
                       f"{name}: published BM25 recall@100 (0-1) or null")
    report.add(f"{name}_queries", figures["bm25"]["queries"], f"{name}: judged queries scored")
    return figures


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> int:
    """Ingest each collection, evaluate, print the table and write the figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ir", type=Path, default=ROOT.parent / "shared" / "ir", help="folder of the collections")
    parser.add_argument("--collection", action="append", choices=sorted(SPLITS), default=None,
                        help="collection to run (repeatable; default: all)")
    parser.add_argument("--subset", type=int, default=None, help="ingest only the first N records (quick run)")
    parser.add_argument("--home", type=Path, default=None, help="parent of the data directories (default: temporary)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args()
    collections = args.collection or list(SPLITS)
    for name in collections:
        if not (args.ir / name / "corpus.jsonl").is_file():
            print(f"{args.ir / name} is missing: the benchmark needs ../shared/ir beside the clone (or --ir)",
                  file=sys.stderr)
            return 2
    report = JsonReport("ir", args.json)
    report.add("omp_num_threads", os.environ.get("OMP_NUM_THREADS"),
               "OMP_NUM_THREADS as set for the run (torch intra-op threads; null = torch's default)")
    parent = args.home or Path(tempfile.mkdtemp(prefix="bench-ir-"))
    results = {}
    for name in collections:
        home = parent / name
        if (home / "index.sqlite").exists():
            print(f"{home} already holds an index; give an empty --home", file=sys.stderr)
            return 2
        home.mkdir(parents=True, exist_ok=True)
        results[name] = run_collection(name, args.ir / name, args.subset, home, report)

    from rich.console import Console
    from rich.table import Table

    title = "Retrieval on public IR collections" + (f" (subset of {args.subset} records)" if args.subset else "")
    table = Table(title=title)
    for column in ("collection", "split", "mode", "queries", "nDCG@10", "recall@100", "published nDCG@10",
                   "published R@100", "docs/s"):
        table.add_column(column, justify="left" if column in ("collection", "split", "mode") else "right")
    for name, figures in results.items():
        for mode in MODES:
            baseline_ndcg, baseline_recall, _ = BASELINES[name][mode]
            table.add_row(name, SPLITS[name], mode, str(figures[mode]["queries"]), _fmt(figures[mode]["ndcg@10"]),
                          _fmt(figures[mode]["recall@100"]), _fmt(baseline_ndcg), _fmt(baseline_recall),
                          f"{report.figures[f'{name}_ingest_docs_per_s']:.1f}" if mode == "bm25" else "")
    Console(width=160).print(table)
    for name in results:
        for mode in MODES:
            print(f"{name} {mode} baseline: {BASELINES[name][mode][2]}")
    report.write(parser, args, ignore=("json", "ir", "home"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
