"""benchmarks/report.py renders BENCHMARKS.md and its PNG plots from the benchmarks' JSON files.

The JSON files are written here in the flat shape of benchmarks/results_io.py (a few figures of
each kind); nothing is measured and nothing needs ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from benchmarks import report
from benchmarks.results_io import JsonReport, reduced_arguments

MACHINE = {"cpu_model": "Test CPU 9000", "cpus": 2, "ram_gib": 23.4, "os": "Linux-test", "python": "3.11.2",
           "packages": {"trafilatura": "2.0.0"}}


def _write(folder: Path, name: str, figures: dict, reduced: list[str] | None = None) -> None:
    (folder / f"{name}.json").write_text(json.dumps({
        "benchmark": name, "command": f"python benchmarks/bench_{name}.py --json benchmarks/results/{name}.json",
        "reduced": reduced or [], "date_utc": "2026-11-30T04:00:00Z", "commit": "0123456789abcdef", "dirty": False,
        "seconds": 12.0, "machine": MACHINE, "figures": figures,
        "descriptions": {k: f"what {k} is" for k in figures}}))


@pytest.fixture()
def rendered(tmp_path):
    """Results for extraction, classification/retrieval, speed, a soak and an embed file of another
    shape; no index results. Returns (markdown text, Report)."""
    results = tmp_path / "results"
    results.mkdir()
    _write(results, "extract", {
        "articles_hub_all_f1": 0.9123, "articles_hub_even_f1": 0.9345, "articles_hub_odd_f1": 0.8901,
        "articles_trafilatura_all_f1": 0.8777, "articles_trafilatura_even_f1": 0.8811,
        "articles_trafilatura_odd_f1": 0.8743, "articles_hub_all_n": 60,
        "metadata_title_accuracy": 0.8125, "metadata_title_known": 64, "metadata_date_accuracy": 0.6543,
        "metadata_date_known": 52, "pdf_hub_pages_per_s": 41.5, "pdf_plain_pages_per_s": 39.9, "pdf_ratio": 1.04,
        "articles_hub_seconds": 4.0, "articles_trafilatura_seconds": 2.5,
        "peak_rss_self_mib": 512.0, "peak_rss_children_mib": 0.0}, reduced=["--subset 60"])
    _write(results, "eval", {
        "classify_method": "zero_shot", "classify_matched": 80, "classify_unmatched": 0,
        "classify_policy_areas_micro_f1": 0.7071, "classify_policy_areas_macro_f1": 0.6161,
        "classify_policy_areas_P1_precision": 0.8, "classify_policy_areas_P1_recall": 0.7,
        "classify_policy_areas_P1_f1": 0.7467, "classify_policy_areas_P1_support": 12,
        "classify_policy_areas_P10_f1": 0.5151, "classify_policy_areas_P10_support": 3,
        "classify_themes_micro_f1": 0.4242, "classify_themes_T3_f1": 0.3939, "classify_themes_T3_support": 5,
        "search_bm25_ndcg10": 0.6101, "search_bm25_recall100": 0.9101, "search_semantic_ndcg10": 0.5202,
        "search_semantic_recall100": 0.8802, "search_hybrid_ndcg10": 0.6603, "search_hybrid_recall100": 0.9303,
        "search_queries": 17, "ingest_docs_per_s": 0.4321, "ingest_indexed": 75, "ingest_failed": 5})
    _write(results, "pipeline", {"fetch_hub_per_s": 120.0, "fetch_plain_per_s": 130.0, "fetch_ratio": 0.9231,
                                 "extract_ratio": 0.9876, "embed_ratio": 1.0123, "e2e_docs_per_s": 0.5555})
    _write(results, "fetch", {"c1_hub_docs_per_s": 300.0, "c1_httpx_docs_per_s": 330.0, "c1_ratio": 0.9090})
    _write(results, "ir", {"scifact_split": "train", "scifact_queries": 809, "scifact_docs": 5183,
                           "scifact_bm25_ndcg10": 0.6464, "scifact_semantic_ndcg10": 0.6262,
                           "scifact_hybrid_ndcg10": 0.6868, "scifact_bm25_baseline_ndcg10": 0.665,
                           "scifact_hybrid_recall100": 0.9494, "scifact_bm25_baseline_source": "BEIR (2021)"})
    (results / "embed.json").write_text(json.dumps({"onnx": {"passages_per_s": 37.5, "batches": [11, 12]}}))
    (results / "soak.json").write_text(json.dumps({
        "generated_at": "2026-11-30T03:00:00Z", "runs": [
            {"scenario": "kill", "run": 1, "event": "SIGKILL at 23.4 s", "expected": 12, "indexed": 12, "lost": 0,
             "duplicated": 0, "extra": 0, "failed_recorded": 0, "outcome": "ok", "seconds": 81.2},
            {"scenario": "diskfull", "run": 1, "event": "ballast", "expected": 9, "indexed": 8, "lost": 1,
             "duplicated": 0, "extra": 0, "failed_recorded": 3, "outcome": "FAIL", "seconds": 40.0}],
        "totals": {"runs": 2, "ok": 1, "lost": 1, "duplicated": 0}}))
    (results / "NOTES.md").write_text("These figures were taken on a test machine.\n")
    out = tmp_path / "site" / "BENCHMARKS.md"
    result = report.render(results, out, tmp_path / "site" / "docs" / "benchmarks", now="2026-11-30 05:00 UTC")
    return out.read_text(encoding="utf-8"), result


def test_figures_appear_in_the_markdown(rendered):
    text, _ = rendered
    for figure in ("0.912", "0.890", "0.878", "81.2%", "65.4%", "1.04",  # extraction
                   "0.707", "0.747", "0.515", "0.424", "Children, young people and families",  # classification
                   "0.610", "0.930", "0.660",  # retrieval
                   "0.646", "0.665", "0.687", "0.949", "BEIR (2021)", "809 queries",  # IR collections
                   "0.92", "0.91", "0.56"):  # speed ratios, end to end
        assert figure in text, figure
    assert "Test CPU 9000 × 2 logical CPUs" in text
    assert "## Notes on these results\n\nThese figures were taken on a test machine." in text
    assert "`0123456789`" in text and "2026-11-30 04:00:00 UTC" in text
    assert "**Reduced run** (`--subset 60`)" in text
    assert "python benchmarks/bench_extract.py --json benchmarks/results/extract.json" in text
    # HTML extraction against plain trafilatura: 60 pages in 4.0 s vs 2.5 s
    assert "| HTML extraction (article benchmark) | 15.0 pages/s | 24.0 pages/s trafilatura.extract | 0.62 | extract |" in text
    # a file without the flat shape is listed by dotted path
    assert "`onnx.passages_per_s`" in text and "37.5" in text and "`onnx.batches.1`" in text
    # the soak's runs, one row each, and its totals
    assert "| diskfull | 1 | ballast | 9 | 8 | 1 | 0 | 0 | 3 | FAIL | 40 |" in text
    assert "**1 of 2 runs ok; 1 documents lost, 0 duplicated.**" in text


def test_plots_are_valid_pngs_linked_from_the_markdown(rendered):
    text, result = rendered
    names = {p.name for p in result.written}
    assert {"extraction-f1.png", "classification-f1.png", "retrieval-dev.png", "retrieval-ir.png",
            "speed-ratios.png"} <= names
    assert "index-latency.png" not in names  # no index results, no plot
    for path in result.written:
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 200 and image.size[1] > 100
        assert f"](docs/benchmarks/{path.name})" in text


def test_missing_results_render_as_not_run(rendered, tmp_path):
    text, _ = rendered
    sections = {block.split("\n", 1)[0]: block for block in text.split("\n### ")}
    assert "_Not run._" in sections["Index load and query latency (synthetic corpus, benchmarks/bench_index.py)"]
    assert "python benchmarks/bench_index.py --sizes 10000 100000" in text

    empty = report.render(tmp_path / "nothing", tmp_path / "empty.md", tmp_path / "plots")
    text = (tmp_path / "empty.md").read_text(encoding="utf-8")
    assert not empty.written
    assert "python benchmarks/bench_ir.py --json benchmarks/results/ir.json" in text
    for heading in ("## Extraction", "## Classification", "## Retrieval", "## Fault soak"):
        body = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
        assert "_Not run._" in body.split("\n\n", 2)[0 if heading != "## Retrieval" else 1], heading


def test_json_report_is_flat_and_records_the_reduced_arguments(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(["--subset", "5", "--json", str(tmp_path / "x.json")])
    assert reduced_arguments(parser, args) == ["--subset 5"]
    out = JsonReport("demo", args.json)
    out.add("speed_docs_per_s", 12.345678, "documents/s")
    out.add("nothing", float("nan"), "a NaN becomes null")
    with pytest.raises(ValueError):
        out.add("not flat/name", 1, "rejected")
    written = out.write(parser, args)
    data = json.loads((tmp_path / "x.json").read_text())
    assert data == written
    assert data["figures"]["speed_docs_per_s"] == 12.3457 and data["figures"]["nothing"] is None
    assert data["figures"]["peak_rss_self_mib"] > 0
    assert data["reduced"] == ["--subset 5"]
    assert data["load_average"]["end"] >= 0 and data["machine"]["cpus"] >= 1
    assert all(not isinstance(v, (dict, list)) for v in data["figures"].values())
    assert set(data["figures"]) == set(data["descriptions"])
