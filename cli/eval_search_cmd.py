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
    json_out: bool = typer.Option(False, "--json", help='{MODE: {"ndcg@10", "recall@100", "per_query": {...}}}'),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Run judged queries against the index and print nDCG@10 and recall@100 per mode.

    Judgments name documents by file name (matched to the end of indexed URLs) or, for records of
    a ``jsonl`` source, by record id (``_id``, the fragment of their ``file:`` URL). Only queries
    with at least one relevant judgment are run (the others would not be scored)."""
    from flows.context import HubContext
    from index.evaluation import JudgmentsError, read_qrels, read_queries, relevant_retrieved, run_queries, score_run

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
    report = {m: score_run(judgments, run) for m, run in runs.items()}
    if json_out:
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"Retrieval ({next(iter(report.values()))['queries']} judged queries)")
    for column in ("mode", "nDCG@10", "recall@100"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for m, figures in report.items():
        table.add_row(m, f"{figures['ndcg@10']:.3f}", f"{figures['recall@100']:.3f}")
    console.print(table)
