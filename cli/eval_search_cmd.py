"""``evidence-hub eval search``: nDCG@10 and recall@100 of judged queries, per retrieval mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from cli.common import ConfigOption, console, err, load_cli_settings

MODES = ("bm25", "semantic", "hybrid")


def eval_search(
    queries: Path = typer.Option(..., "--queries", help="TSV query_id<TAB>query (a first row naming both columns, "
                                                       "e.g. query_id/qid/id and query/text, is a header), or BEIR "
                                                       "queries.jsonl"),
    qrels: Path = typer.Option(..., "--qrels", help="TSV query_id<TAB>file-or-record-id<TAB>grade (a first row whose "
                                                   "grade is a word, e.g. grade/score, is a header; BEIR qrels/*.tsv)"),
    mode: list[str] = typer.Option([], "--mode", help="bm25 | semantic | hybrid (repeatable; default: all three)"),
    json_out: bool = typer.Option(False, "--json", help='{MODE: {"ndcg@10", "recall@100", "ndcg@10_ci95", '
                                                         '"recall@100_ci95", "per_query": {...}, "vs": {...}}}'),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Run judged queries against the index and print nDCG@10 and recall@100 per mode.

    Judgments name documents by file name (matched to the end of indexed URLs) or, for records of
    a ``jsonl`` source, by record id (``_id``, the fragment of their ``file:`` URL). Only queries
    with at least one relevant judgment are run (the others would not be scored). Each figure
    comes with its 95% bootstrap interval over queries; each mode's nDCG@10 is compared with the
    modes before it query by query (difference, 95% interval, paired randomization test p)."""
    from flows.context import HubContext
    from index.evaluation import (JudgmentsError, add_uncertainty, read_qrels, read_queries, relevant_retrieved,
                                  run_queries, score_run)

    modes = mode or list(MODES)
    bad = [m for m in modes if m not in MODES]
    if bad:
        err.print(f"[red]--mode must be bm25, semantic or hybrid, not {', '.join(bad)}[/red]")
        raise typer.Exit(2)
    try:
        texts, judgments = read_queries(queries), read_qrels(qrels)
    except JudgmentsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    settings = load_cli_settings(config)
    if settings.index.backend == "embedded" and not settings.index_path.exists():
        err.print(f"[red]no index at {settings.index_path}[/red]; run `evidence-hub ingest` first")
        raise typer.Exit(1)
    unknown = sorted({q.query_id for q in judgments} - set(texts))
    if unknown:
        err.print(f"[yellow]qrels name {len(unknown)} queries that the queries file lacks: "
                  f"{', '.join(unknown[:10])}[/yellow]")
    judged = {q.query_id for q in judgments if q.relevance > 0}
    texts = {qid: text for qid, text in texts.items() if qid in judged}  # others are not scored: not run
    if not texts:
        err.print(f"[red]no query to score[/red]: none of the {len(judged)} queries with a relevant judgment "
                  f"(grade > 0) in {qrels} has a text in {queries}")
        raise typer.Exit(2)
    ctx = HubContext(settings)
    try:
        runs = {m: run_queries(ctx.index, ctx.embedder, texts, m) for m in modes}
    finally:
        ctx.close()
    if not any(relevant_retrieved(judgments, run) for run in runs.values()):
        err.print(f"[red]no query found any of its relevant documents, in any mode[/red]: are the judged documents "
                  f"in the index at {settings.index_path if settings.index.backend == 'embedded' else 'OpenSearch'}? "
                  "Judgments name documents by the file name at the end of their URL or path, or by the record id "
                  "of a jsonl source; ingest them first")
        raise typer.Exit(1)
    report = add_uncertainty({m: score_run(judgments, run) for m, run in runs.items()})
    if json_out:
        print(json.dumps(report, indent=2))
        return
    console.print(_figures_table(report))
    if any("vs" in figures for figures in report.values()):
        console.print(_comparisons_table(report))


def _interval(figures: dict, measure: str) -> str:
    low, high = figures.get(f"{measure}_ci95") or (float("nan"), float("nan"))
    return f"{figures[measure]:.3f} [{low:.3f}, {high:.3f}]"


def _figures_table(report: dict) -> Table:
    """Mode, nDCG@10 and recall@100, each with its 95% bootstrap interval."""
    table = Table(title=f"Retrieval, {next(iter(report.values()))['queries']} judged queries: mean [95% interval]")
    for column in ("mode", "nDCG@10", "recall@100"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for m, figures in report.items():
        table.add_row(m, _interval(figures, "ndcg@10"), _interval(figures, "recall@100"))
    return table


def _comparisons_table(report: dict) -> Table:
    """One row per compared pair of modes: nDCG@10 difference, its interval, the test's p."""
    from core.stats import format_p_value

    table = Table(title="nDCG@10 differences, query by query", caption="p: paired randomization test")
    for column in ("modes", "difference", "95% interval", "p"):
        table.add_column(column, justify="left" if column == "modes" else "right")
    for m, figures in report.items():
        for other, compared in (figures.get("vs") or {}).items():
            low, high = compared["ci95"]
            table.add_row(f"{m} - {other}", f"{compared['ndcg@10_difference']:+.3f}", f"[{low:+.3f}, {high:+.3f}]",
                          format_p_value(compared["p_value"]))
    return table
