"""Quality on the developer corpus: classification and retrieval against the gold labels.
A script, not a test; prints figures, asserts nothing.

    python benchmarks/bench_eval.py [--corpus ../shared/corpus/docs] [--labels ../shared/labels]
                                    [--home DIR] [--json PATH] [--model MODEL]

1. Ingests ``--corpus`` the way the test fixture ``corpus_run`` does (tests/conftest.py): the
   folder served on 127.0.0.1 by ``demo.server.StaticSite``, one sitemap source, the real Prefect
   flow ``flows.ingest.run_ingest`` into a fresh data directory (``--home``: when an earlier run
   of this script completed its ingest there, the index is reused and nothing is ingested; an
   interrupted one is resumed by the flow).
2. Runs the hub's own commands on that index, as a user would, with ``EVIDENCE_HUB_HOME`` set:

       evidence-hub eval classify --gold LABELS/classification-dev.csv --json
       evidence-hub eval classify --gold LABELS/classification-dev.csv --cv 5 --json
       evidence-hub eval search --queries LABELS/queries-dev.tsv --qrels LABELS/qrels-dev.tsv --json

``--json PATH`` writes flat figures (benchmarks/results_io.py): ``classify_<kind>_micro_f1``,
``classify_<kind>_macro_f1`` (as configured), ``classify_cv_<kind>_{micro,macro}_f1`` (the
supervised model, 5-fold cross-validated, seed 0), ``classify_<kind>_<label>_{precision,recall,f1,support}`` for
kind ``policy_areas`` and ``themes``; ``search_<mode>_ndcg10`` and ``search_<mode>_recall100``
for bm25, semantic and hybrid; 95% bootstrap intervals as ``<figure>_ci_low`` / ``_ci_high``
(micro / macro F1, nDCG@10); ``search_<mode>_vs_<other>_{difference,ci_low,ci_high,p}``, the
paired comparison of nDCG@10 (``eval search``'s ``vs``); ``ingest_*`` counts and documents/s; peak memory (the CLI runs in
child processes, counted in ``peak_rss_children_mib``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import hub_json, set_bench_environment  # noqa: E402

set_bench_environment()

from benchmarks.results_io import JsonReport  # noqa: E402
from core.stats import format_p_value  # noqa: E402


def ingest(corpus: Path, home: Path, report: JsonReport, model: str | None = None) -> None:
    """Serve ``corpus`` on 127.0.0.1 and ingest it from its sitemap into ``home`` (real flow), with
    ``model`` as ``embedding.model`` when given."""
    from config import load_settings
    from config.sources import Source
    from demo.server import StaticSite
    from flows.ingest import run_ingest

    settings = load_settings(home=str(home), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0},
                             **({"embedding": {"model": model}} if model else {}))
    with StaticSite(corpus) as site:
        started = time.perf_counter()
        summary = run_ingest([Source(name="corpus", kind="sitemap", url=site.base_url + "/sitemap.xml")], settings)
        seconds = time.perf_counter() - started
    print(f"ingested {corpus}: {summary.discovered} discovered, {summary.indexed} indexed, "
          f"{summary.failed} failed in {seconds:.0f} s")
    report.add("ingest_discovered", summary.discovered, "corpus documents discovered from the sitemap")
    report.add("ingest_indexed", summary.indexed, "documents indexed")
    report.add("ingest_failed", summary.failed, "documents that failed (broken, encrypted, no text ...)")
    report.add("ingest_seconds", seconds, "wall seconds of the ingest flow")
    report.add("ingest_docs_per_s", summary.discovered / seconds, "documents/s end to end (discovered / seconds)")


def run_hub(home: Path, report: JsonReport, failed: list[str], name: str, *args: str, model: str | None = None) -> dict:
    """``evidence-hub ARGS --json`` on ``home`` (:func:`benchmarks.common.hub_json`, ``model`` as
    ``embedding.model`` when given); on failure its stderr tail is recorded as ``<name>_error``,
    ``name`` is appended to ``failed`` and {} returned."""
    try:
        return hub_json(home, *args, model=model)
    except subprocess.CalledProcessError as exc:
        failed.append(name)
        report.add(f"{name}_error", (exc.stderr or "")[-500:], f"why `evidence-hub {' '.join(args)}` failed")
        return {}


def add_averages(report: JsonReport, result: dict, prefix: str, what: str) -> None:
    """Print and record the micro / macro F1 and micro precision / recall of policy areas and themes
    in an ``eval classify --json`` result as ``<prefix>_<kind>_<measure>`` (0-1; None when absent)."""
    for kind in ("policy_areas", "themes"):
        figures = result.get(kind) or {}
        print(f"classification {kind}{what}: micro F1 {figures.get('micro_f1', float('nan')):.3f}, "
              f"macro F1 {figures.get('macro_f1', float('nan')):.3f}")
        for name in ("micro_f1", "macro_f1", "micro_precision", "micro_recall"):
            report.add(f"{prefix}_{kind}_{name}", figures.get(name),
                       f"{kind.replace('_', ' ')}{what}: {name.replace('_', ' ')} (0-1)")
        for name in ("micro_f1", "macro_f1"):
            add_interval(report, f"{prefix}_{kind}_{name}", figures.get(f"{name}_ci95"),
                         f"{kind.replace('_', ' ')}{what}: {name.replace('_', ' ')}, documents resampled")


def add_interval(report: JsonReport, name: str, interval: list[float] | None, what: str) -> None:
    """Record a 95% bootstrap interval ``[low, high]`` (or None) as ``<name>_ci_low`` and ``_ci_high``."""
    low, high = interval or (None, None)
    report.add(f"{name}_ci_low", low, f"{what}: 95% bootstrap interval, low end (0-1)")
    report.add(f"{name}_ci_high", high, f"{what}: 95% bootstrap interval, high end (0-1)")


def main() -> int:
    """Ingest (unless the index exists), evaluate, print and write the figures; returns the exit
    status (1 when an ``evidence-hub eval`` command failed: its error is in the JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "docs")
    parser.add_argument("--labels", type=Path, default=ROOT.parent / "shared" / "labels")
    parser.add_argument("--home", type=Path, default=None,
                        help="data directory for the corpus index (default: a new temporary one); "
                             "an existing index there is reused")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    parser.add_argument("--model", default=None, help="embedding.model for this run (default: the shipped one); "
                                                      "a packaged name or a sentence-transformers folder")
    args = parser.parse_args()
    for path in (args.corpus, args.labels):
        if not path.exists():
            print(f"{path} is missing: the benchmark needs ../shared beside the clone (or pass it)", file=sys.stderr)
            return 2
    report = JsonReport("eval", args.json)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-eval-"))
    home.mkdir(parents=True, exist_ok=True)
    marker = home / "bench-eval-ingested"
    if marker.exists():
        print(f"reusing the index in {home}")
        report.add("ingest_reused", True, "the corpus index already existed (no ingest timed)")
        report.add("ingest_reused_note", marker.read_text(encoding="utf-8").strip(),
                   "what the marker file in --home says about where the index came from")
    else:
        if (home / "registry.sqlite").exists():
            report.add("ingest_resumed", True, "an interrupted ingest in --home was resumed (timing partial)")
        ingest(args.corpus, home, report, args.model)
        marker.write_text(str(args.corpus.resolve()) + "\n", encoding="utf-8")

    failed: list[str] = []
    gold = str(args.labels / "classification-dev.csv")
    classify = run_hub(home, report, failed, "classify", "eval", "classify", "--gold", gold, model=args.model)
    report.add("classify_method", classify.get("method"), "classifier method as configured")
    report.add("embedding_model", args.model or "shipped", "embedding.model of this run (shipped: config/settings.yaml)")
    report.add("classify_matched", classify.get("matched"), "gold documents found in the index")
    report.add("classify_unmatched", len(classify.get("unmatched") or []), "gold documents not in the index")
    add_averages(report, classify, "classify", "")
    for kind in ("policy_areas", "themes"):
        for label, values in sorted(((classify.get(kind) or {}).get("per_label") or {}).items()):
            for measure in ("precision", "recall", "f1", "support"):
                unit = "gold documents" if measure == "support" else "0-1"
                report.add(f"classify_{kind}_{label}_{measure}", values.get(measure), f"{label}: {measure} ({unit})")
    # the supervised model on documents it never saw: 5-fold CV (seed 0), deciding as the hub does
    cv = run_hub(home, report, failed, "classify_cv", "eval", "classify", "--gold", gold, "--cv", "5", model=args.model)
    add_averages(report, cv, "classify_cv", ", supervised 5-fold CV (seed 0)")

    for facet in ("doc_type", "language"):  # single-valued, set by extraction's rules: micro F1 = accuracy
        figures = classify.get(facet) or {}
        for name in ("micro_f1", "macro_f1"):
            report.add(f"classify_{facet}_{name}", figures.get(name),
                       f"{facet.replace('_', ' ')}: {'accuracy' if name == 'micro_f1' else 'macro F1 over values'} (0-1)")

    search = run_hub(home, report, failed, "search", "eval", "search", "--queries", str(args.labels / "queries-dev.tsv"),
                     "--qrels", str(args.labels / "qrels-dev.tsv"), model=args.model)
    for mode, figures in search.items():
        print(f"retrieval {mode}: nDCG@10 {figures['ndcg@10']:.3f}, recall@100 {figures['recall@100']:.3f} "
              f"({figures['queries']} judged queries)")
        report.add(f"search_{mode}_ndcg10", figures["ndcg@10"], f"{mode}: mean nDCG@10 over judged queries (0-1)")
        report.add(f"search_{mode}_recall100", figures["recall@100"], f"{mode}: mean recall@100 (0-1)")
        report.add("search_queries", figures["queries"], "queries with at least one relevant document")
        add_interval(report, f"search_{mode}_ndcg10", figures.get("ndcg@10_ci95"), f"{mode}: nDCG@10, queries resampled")
        for other, compared in (figures.get("vs") or {}).items():
            pair = f"search_{mode}_vs_{other}"
            print(f"retrieval {mode} - {other}: nDCG@10 {compared['ndcg@10_difference']:+.3f}, 95% interval "
                  f"[{compared['ci95'][0]:+.3f}, {compared['ci95'][1]:+.3f}], randomization test p {format_p_value(compared['p_value'])}")
            report.add(f"{pair}_difference", compared["ndcg@10_difference"],
                       f"mean per-query nDCG@10 of {mode} minus {other} (-1 to 1)")
            report.add(f"{pair}_ci_low", compared["ci95"][0], f"{mode} - {other}: 95% bootstrap interval, low end")
            report.add(f"{pair}_ci_high", compared["ci95"][1], f"{mode} - {other}: 95% bootstrap interval, high end")
            report.add(f"{pair}_p", compared["p_value"], f"{mode} - {other}: paired randomization test, two-sided p")
    report.write(parser, args, ignore=("json", "home"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
