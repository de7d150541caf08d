"""The ingestion flow: discover -> fetch+extract (threads, worker processes) -> index (one writer).

Thin by design: every step is a function in flows/steps.py or a stage package; this module
declares tasks, concurrency and run records only.

Fetch-and-extract is a Prefect task per URL (retries, tag concurrency limits, its state in the UI).
Indexing (chunk -> embed -> classify -> load) is a plain call in the flow's one writer thread: it
needs none of that, and a task run's bookkeeping blocked the writer, so embedding stood idle. On the
145 pages of the article-extraction benchmark (2 cores, ``benchmarks/bench_pipeline.py --corpus``)
the whole run went from 95 s to 77 s and the part after the first indexed document from 70 s to
44-55 s over three runs (the embedding stage alone needs 36-39 s for those passages). A document's
indexing failure is still recorded with its reason (registry, run summary, Prefect artifacts).
"""

from __future__ import annotations

import logging
import threading
import uuid

from prefect import flow, tags, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.settings import Settings
from config.sources import Source
from core.models import DiscoveredURL, Failure, RunSummary, utcnow
from crawl.discovery import DiscoveryError, DiscoveryIssue, discover
from crawl.fetch import FetchError
from crawl.politeness import HostStats
from flows.context import HubContext
from flows.records import IngestSummary, SourceRecorder
from flows.steps import Outcome, discovery_fetch, fetch_and_extract, index_document
from index.backend import check_embedding_model
from index.embedded import recorded_model
from index.embedding import Embedder

logger = logging.getLogger(__name__)


@task(name="discover", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def discover_task(ctx: HubContext, source: Source) -> tuple[list[DiscoveredURL], list[DiscoveryIssue], str | None]:
    """``(URLs of one source, the parts of it that could not be read, None)``, or ``([], issues,
    reason)`` when the source as a whole cannot be read for a reason that will not pass by itself
    (robots.txt, an address not allowed, a 404, a sitemap that is not XML, a missing folder): the
    run records the reason without a traceback. A fetch error that may pass (429, 5xx, a dropped
    connection) raises FetchError on the first attempt, so that Prefect tries the task once more,
    and is returned as the reason on the last (a traceback would only repeat the reason)."""
    issues: list[DiscoveryIssue] = []
    try:
        return discover(source, discovery_fetch(ctx, source), issues), issues, None
    except FetchError as exc:
        run = TaskRunContext.get()
        if exc.retryable and run is not None and run.task_run.run_count <= run.task.retries:
            raise
        return [], issues, exc.reason
    except (DiscoveryError, OSError) as exc:
        return [], issues, str(exc)


class TransientFetchFailure(Exception):
    """A fetch failed for a reason that may pass (429, 5xx, a dropped connection): Prefect retries
    the task; the last attempt returns the failure as the URL's outcome instead of raising."""

    def __init__(self, outcome: Outcome):
        super().__init__(f"{outcome.url}: {outcome.failure.reason if outcome.failure else 'transient failure'}")
        self.outcome = outcome


@task(name="fetch-extract", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 10],
      retry_jitter_factor=0.5)
def fetch_extract_task(ctx: HubContext, source: Source, item: DiscoveredURL) -> Outcome:
    """Fetch and extract one URL. The fetcher retries quickly inside one attempt; a transient
    failure that outlasts those retries fails the task run, and Prefect runs it again (each
    attempt really fetches: no result cache). The last attempt returns the failure instead."""
    outcome = fetch_and_extract(ctx, source, item)
    if outcome.retryable:
        run = TaskRunContext.get()
        if run is not None and run.task_run.run_count <= run.task.retries:
            raise TransientFetchFailure(outcome)
    return outcome


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
def ingest_flow(sources: list[Source], settings: Settings, console: Console | None = None,
                fetch_task_retries: int | None = None) -> IngestSummary:
    """Ingest ``sources`` into the index chosen by ``settings``; returns the run summary.

    A failure of one document (or of one source's discovery) is recorded and the run goes on.
    Each source's part of the run is recorded in the registry and published as Prefect artifacts
    (see :mod:`flows.records`); its tasks carry the tags ``ingest`` and ``source:<name>`` so
    Prefect tag concurrency limits can bound each source. ``fetch_task_retries`` overrides the
    Prefect retries declared on the fetch task (None: as declared).
    """
    fetch_task = fetch_extract_task if fetch_task_retries is None else fetch_extract_task.with_options(
        retries=fetch_task_retries)
    ctx = HubContext(settings)
    ctx.index  # noqa: B018 - model and index checked before anything is fetched: a setup error stops the run
    summary = IngestSummary(sources=[s.name for s in sources])
    run_id = uuid.uuid4().hex
    ctx.registry.start_run(run_id, summary.sources)
    ctx.robots.persist_in(ctx.registry)  # robots.txt answers are reused by later runs for 24 h
    recorder = SourceRecorder(ctx.registry, run_id)
    state = "failed"
    try:
        with _progress(console) as progress:
            for source in sources:
                part = recorder.start(source)
                try:
                    items, issues, reason = discover_task(ctx, source)
                except (DiscoveryError, FetchError, OSError) as exc:  # not expected: the task returns its reasons
                    items, issues, reason = [], [], getattr(exc, "reason", None) or str(exc)
                if reason is not None:
                    failure = Failure(url=source.url or str(source.path or source.name),
                                      stage="discover", reason=f"source {source.name}: {reason}")
                    summary.add_failure(failure)
                    part.add_failure(failure)
                    recorder.finish(source, "failed")
                    continue
                for issue in issues:
                    failure = Failure(url=issue.url, stage="discover", reason=issue.reason)
                    summary.add_failure(failure)
                    part.add_failure(failure)
                items = items[: source.limits.max_documents]
                listed = {item.url for item in items}  # re-queued failures the source no longer lists
                items += [DiscoveredURL(url=url) for url in ctx.registry.pending(source.name) if url not in listed]
                summary.discovered += len(items)
                part.discovered += len(items)
                bar = progress.add_task(source.name, total=len(items))
                indexed_here: set[str] = set()  # URLs indexed in this run (a fused report may replace one)
                with tags("ingest", f"source:{source.name}"):
                    futures = [fetch_task.submit(ctx, source, item) for item in items]
                    for future in as_completed(futures):
                        outcome = future.result()
                        if outcome.state == "extracted":
                            summary.extracted += 1
                            part.extracted += 1
                            outcome = index_document(ctx, source, outcome)  # not a task: see the module doc
                            if outcome.state == "indexed":
                                indexed_here.add(outcome.url)
                                for counts in (summary, part):
                                    counts.indexed += 1
                                    if outcome.replaced in indexed_here:  # its report, indexed alone a moment ago
                                        counts.indexed -= 1
                                        counts.duplicates += 1
                        _count(summary, outcome)
                        _count(part, outcome)
                        progress.advance(bar)
                recorder.finish(source, "completed", hosts=_hosts(ctx))
        state = "completed"
    finally:
        summary.hosts = _hosts(ctx)
        summary.finished_at = utcnow()
        recorder.close(hosts=summary.hosts)  # a source cut short by an error is recorded as crashed
        ctx.registry.finish_run(run_id, summary, state)
        ctx.close()
    return summary


def _hosts(ctx: HubContext) -> dict[str, HostStats]:
    """Per-host counters so far (empty when nothing was fetched over HTTP)."""
    return ctx.fetcher.host_stats() if "fetcher" in ctx.__dict__ else {}


def run_ingest(sources: list[Source], settings: Settings, console: Console | None = None,
               fetch_task_retries: int | None = 0) -> IngestSummary:
    """Run :func:`ingest_flow` with ``settings.fetch.concurrency`` worker threads.

    ``fetch_task_retries`` defaults to 0 here: a run started by hand relies on the fetcher's own
    retries and reports what failed at once; scheduled runs (``flows.schedule.ingest_source``)
    pass None and get the fetch task's declared Prefect retries as a second chance. With no
    ``PREFECT_API_URL`` the run gets its own ephemeral API server
    (:func:`flows.prefect_api.use_private_ephemeral_api`)."""
    from flows.prefect_api import use_private_ephemeral_api  # imports Prefect's server module (2-3 s)

    runner = ThreadPoolTaskRunner(max_workers=settings.fetch.concurrency)
    use_private_ephemeral_api()
    check_recorded_model(settings)  # before Prefect starts: a wrong model is one line, not a failed flow run
    warming = warm_embedder(settings)
    try:
        return ingest_flow.with_options(task_runner=runner)(sources, settings, console, fetch_task_retries)
    finally:
        warming.join()


def check_recorded_model(settings: Settings) -> None:
    """Raise IndexMismatch when the embedded index at ``settings.index_path`` records another
    embedding model than ``settings.embedding.model`` (read-only, without loading the model: its
    folder's digest only). Nothing to check for a missing index or the OpenSearch backend (the flow
    checks both when it opens the index)."""
    if settings.index.backend == "embedded":
        check_embedding_model(recorded_model(settings.index_path), Embedder(settings.embedding).model_id,
                              str(settings.index_path))


def warm_embedder(settings: Settings) -> threading.Thread:
    """Start loading the embedding model (``settings.embedding``) in a background thread and return
    it. Prefect starts its API (a local server on a first run: 10-19 s here) when the flow is called;
    the model's import and load (about 5 s, :func:`index.embedding.load_model`, once per process)
    overlap with it instead of following it. An error is left for the run's own load to raise."""
    def warm() -> None:
        try:
            Embedder(settings.embedding).model
        except Exception as exc:  # noqa: BLE001 - the flow loads the model again and reports the error
            logger.debug("warming the embedder failed: %s", exc)

    thread = threading.Thread(target=warm, name="warm-embedder", daemon=True)
    thread.start()
    return thread
