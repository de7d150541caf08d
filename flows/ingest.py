"""The ingestion flow: discover -> fetch+extract (threads, worker processes) -> index (one writer).

Thin by design: every step is a function in flows/steps.py or a stage package; this module
declares tasks, concurrency and run records only.
"""

from __future__ import annotations

import uuid

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pydantic import Field

from config.settings import Settings
from config.sources import Source
from core.models import DiscoveredURL, Failure, RunSummary, utcnow
from crawl.discovery import DiscoveryError, DiscoveryIssue, discover
from crawl.fetch import FetchError
from crawl.politeness import HostStats
from flows.context import HubContext
from flows.steps import Outcome, discovery_fetch, fetch_and_extract, index_document


class IngestSummary(RunSummary):
    """The run summary plus each host's request counters and back-off state (``host[:port]``)."""

    hosts: dict[str, HostStats] = Field(default_factory=dict)


@task(name="discover", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def discover_task(ctx: HubContext, source: Source) -> tuple[list[DiscoveredURL], list[DiscoveryIssue]]:
    """URLs of one source and the parts of it that could not be read (retried once: a sitemap
    or feed may be briefly unavailable)."""
    issues: list[DiscoveryIssue] = []
    return discover(source, discovery_fetch(ctx, source), issues), issues


@task(name="fetch-extract", cache_policy=NO_CACHE)
def fetch_extract_task(ctx: HubContext, source: Source, item: DiscoveredURL) -> Outcome:
    """Fetch and extract one URL (retries are inside the fetcher, where the failure happens)."""
    return fetch_and_extract(ctx, source, item)


@task(name="index", cache_policy=NO_CACHE)
def index_task(ctx: HubContext, source: Source, outcome: Outcome) -> Outcome:
    """Chunk, embed, classify and load one extracted document."""
    return index_document(ctx, source, outcome)


def _count(summary: RunSummary, outcome: Outcome) -> None:
    summary.fetched += int(outcome.fetched)
    summary.not_modified += int(outcome.not_modified)
    if outcome.state == "unchanged":
        summary.unchanged += 1
    elif outcome.state == "duplicate":
        summary.duplicates += 1
    elif outcome.state == "skipped":
        summary.skipped += 1
        summary.failures.append(Failure(url=outcome.url, stage="robots" if "robots" in (outcome.reason or "")
                                        else "discover", reason=outcome.reason or "skipped"))
    elif outcome.state == "failed" and outcome.failure is not None:
        summary.add_failure(outcome.failure)


def _progress(console: Console | None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, disable=console is None or not console.is_terminal,
                    transient=False)


@flow(name="ingest", validate_parameters=False, log_prints=False)
def ingest_flow(sources: list[Source], settings: Settings, console: Console | None = None) -> IngestSummary:
    """Ingest ``sources`` into the index chosen by ``settings``; returns the run summary.

    A failure of one document (or of one source's discovery) is recorded and the run goes on.
    """
    ctx = HubContext(settings)
    summary = IngestSummary(sources=[s.name for s in sources])
    run_id = uuid.uuid4().hex
    ctx.registry.start_run(run_id, summary.sources)
    ctx.robots.persist_in(ctx.registry)  # robots.txt answers are reused by later runs for 24 h
    state = "failed"
    try:
        with _progress(console) as progress:
            for source in sources:
                try:
                    items, issues = discover_task(ctx, source)
                except (DiscoveryError, FetchError, OSError) as exc:
                    reason = getattr(exc, "reason", None) or str(exc)
                    summary.add_failure(Failure(url=source.url or str(source.path or source.name),
                                                stage="discover", reason=f"source {source.name}: {reason}"))
                    continue
                for issue in issues:
                    summary.add_failure(Failure(url=issue.url, stage="discover", reason=issue.reason))
                items = items[: source.limits.max_documents]
                summary.discovered += len(items)
                bar = progress.add_task(source.name, total=len(items))
                futures = [fetch_extract_task.submit(ctx, source, item) for item in items]
                for future in as_completed(futures):
                    outcome = future.result()
                    if outcome.state == "extracted":
                        summary.extracted += 1
                        outcome = index_task(ctx, source, outcome)
                        summary.indexed += int(outcome.state == "indexed")
                    _count(summary, outcome)
                    progress.advance(bar)
        state = "completed"
    finally:
        if "fetcher" in ctx.__dict__:  # opened only when something was fetched over HTTP
            summary.hosts = ctx.fetcher.host_stats()
        summary.finished_at = utcnow()
        ctx.registry.finish_run(run_id, summary, state)
        ctx.close()
    return summary


def run_ingest(sources: list[Source], settings: Settings, console: Console | None = None) -> IngestSummary:
    """Run :func:`ingest_flow` with ``settings.fetch.concurrency`` worker threads."""
    runner = ThreadPoolTaskRunner(max_workers=settings.fetch.concurrency)
    return ingest_flow.with_options(task_runner=runner)(sources, settings, console)
