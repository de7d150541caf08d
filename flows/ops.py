"""What operators ask of the hub between runs: each source's status (last run, counts, errors,
back-off, freshness) and its adaptive re-crawl cadence. Plain functions over the registry.
"""

from __future__ import annotations

import statistics
from datetime import datetime, time, timedelta, timezone

from pydantic import BaseModel, Field

from config.sources import Source
from core.models import utcnow
from crawl.registry import Registry, SourceRun


class Freshness(BaseModel):
    """How long documents took to reach the index, in seconds (median and 90th percentile).

    ``since_first_seen``: from the document's first appearance in the source (the crawl that
    discovered it) to its first indexing. ``since_published``: from its publication date (midnight
    UTC; documents without a date are left out) to its first indexing."""

    documents: int = 0
    since_first_seen_median_s: float | None = None
    since_first_seen_p90_s: float | None = None
    dated_documents: int = 0
    since_published_median_s: float | None = None
    since_published_p90_s: float | None = None


class Recrawl(BaseModel):
    """A source's re-crawl cadence: the current interval and when the next crawl is due."""

    adaptive: bool
    interval_s: float | None = Field(None, description="Current interval between crawls, seconds")
    min_interval_s: float | None = None
    max_interval_s: float | None = None
    next_due: datetime | None = Field(None, description="When the next crawl is due (UTC); None: now")
    runs_considered: int = 0


class SourceStatus(BaseModel):
    """One source as ``evidence-hub status`` shows it."""

    name: str
    enabled: bool = True
    configured: bool = True
    schedule: str | None = None
    last_run_started: datetime | None = None
    last_run_finished: datetime | None = None
    state: str = "never run"
    last_run: dict[str, int] = Field(default_factory=dict, description="Counts of the last run")
    last_run_failures: list[dict] = Field(default_factory=list, description="url, stage, reason")
    documents: dict[str, int] = Field(default_factory=dict, description="Registry URLs per state, all runs")
    errors: list[dict] = Field(default_factory=list, description="URLs now failed: url, stage, reason, attempts")
    hosts: dict[str, dict] = Field(default_factory=dict, description="Last run's per-host counters and back-off")
    freshness: Freshness = Freshness()
    recrawl: Recrawl | None = None


COUNTS = ("discovered", "fetched", "not_modified", "unchanged", "duplicates", "extracted", "indexed", "skipped",
          "failed")


def describe_schedule(source: Source) -> str | None:
    """The schedule as text: ``cron 0 2 * * * (UTC)`` or ``every 6:00:00``; None when unscheduled."""
    schedule = source.schedule
    if schedule is None:
        return None
    text = f"cron {schedule.cron} ({schedule.timezone})" if schedule.cron else f"every {schedule.interval}"
    return text + (" adaptive" if schedule.adaptive else "")


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def freshness(registry: Registry, source: str) -> Freshness:
    """Freshness figures of ``source``'s indexed documents (see :class:`Freshness`)."""
    timings = registry.timings(source)
    seen = [max(0.0, (t.first_indexed - t.first_seen).total_seconds()) for t in timings]
    published = [max(0.0, (t.first_indexed - datetime.combine(t.published, time(), timezone.utc)).total_seconds())
                 for t in timings if t.published is not None]
    seen_median, seen_p90 = _quantiles(seen)
    pub_median, pub_p90 = _quantiles(published)
    return Freshness(documents=len(seen), since_first_seen_median_s=seen_median, since_first_seen_p90_s=seen_p90,
                     dated_documents=len(published), since_published_median_s=pub_median,
                     since_published_p90_s=pub_p90)


def base_interval(source: Source) -> timedelta | None:
    """The configured interval, or the gap between a cron schedule's next two runs; None when unscheduled."""
    schedule = source.schedule
    if schedule is None:
        return None
    if schedule.interval is not None:
        return schedule.interval
    first, second = next_runs(source, 2)
    return second - first


def next_runs(source: Source, n: int = 1, after: datetime | None = None) -> list[datetime]:
    """The next ``n`` times ``source``'s schedule fires (UTC-aware), computed by Prefect's own
    schedule classes; an interval schedule is anchored at ``after`` (default now)."""
    from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.utilities.asyncutils import run_coro_as_sync

    schedule = source.schedule
    if schedule is None:
        return []
    after = after or utcnow()
    if schedule.cron:
        server = CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    else:
        server = IntervalSchedule(interval=schedule.interval, anchor_date=after, timezone="UTC")
    dates = run_coro_as_sync(server.get_dates(n=n, start=after))
    return [datetime.fromtimestamp(d.timestamp(), timezone.utc) for d in dates]


def recrawl(source: Source, runs: list[SourceRun]) -> Recrawl | None:
    """``source``'s cadence from its recent ``runs`` (any order), as Nutch's AdaptiveFetchSchedule
    does per page: start at the configured interval (clamped to the bounds); after each finished
    run that indexed new or changed documents shrink it by ``dec_rate``, after each that brought
    nothing new grow it by ``inc_rate``; keep it within ``[min_interval, max_interval]``.
    Without ``schedule.adaptive`` the interval is the configured one (for cron, the gap between
    its next two runs) and the next crawl is the schedule's next run."""
    base = base_interval(source)
    if base is None:
        return None
    finished = sorted((r for r in runs if r.summary is not None and r.state == "completed"),
                      key=lambda r: r.started_at)
    adaptive = source.schedule.adaptive
    if adaptive is None:
        last = finished[-1].started_at if finished else None
        if source.schedule.cron:  # the cron expression says when, whatever happened before
            due = next_runs(source, 1)[0]
        else:
            due = last + base if last else None
        return Recrawl(adaptive=False, interval_s=base.total_seconds(), runs_considered=len(finished), next_due=due)
    low, high = adaptive.min_interval.total_seconds(), adaptive.max_interval.total_seconds()
    interval = min(max(base.total_seconds(), low), high)
    for run in finished:
        changed = run.summary.get("indexed", 0) > 0
        interval *= (1 - adaptive.dec_rate) if changed else (1 + adaptive.inc_rate)
        interval = min(max(interval, low), high)
    due = finished[-1].started_at + timedelta(seconds=interval) if finished else None
    return Recrawl(adaptive=True, interval_s=interval, min_interval_s=low, max_interval_s=high, next_due=due,
                   runs_considered=len(finished))


def is_due(source: Source, registry: Registry, now: datetime | None = None) -> tuple[bool, datetime | None]:
    """Whether an adaptive source should be crawled at ``now`` and when it is due. Sources without
    an adaptive schedule are always due (their deployment's own schedule decides)."""
    if source.schedule is None or source.schedule.adaptive is None:
        return True, None
    cadence = recrawl(source, registry.source_runs(source.name, limit=50))
    due = cadence.next_due if cadence else None
    return due is None or (now or utcnow()) >= due, due


def source_status(registry: Registry, source: Source, *, configured: bool = True) -> SourceStatus:
    """Everything ``evidence-hub status`` shows for one source."""
    runs = registry.source_runs(source.name, limit=50)
    status = SourceStatus(name=source.name, enabled=source.enabled, configured=configured,
                          schedule=describe_schedule(source), documents=registry.counts(source.name),
                          freshness=freshness(registry, source.name), recrawl=recrawl(source, runs))
    status.errors = [{"url": r.url, "stage": r.stage, "reason": r.reason, "attempts": r.attempts}
                     for r in registry.failures(source.name)]
    if runs:
        last = runs[0]
        status.last_run_started, status.last_run_finished, status.state = last.started_at, last.finished_at, last.state
        if last.summary:
            status.last_run = {name: int(last.summary.get(name, 0)) for name in COUNTS}
            status.last_run_failures = list(last.summary.get("failures", []))
            status.hosts = dict(last.summary.get("hosts", {}))
    return status


def all_status(registry: Registry, sources: list[Source]) -> list[SourceStatus]:
    """Status of every configured source, then of sources the registry knows but the config no
    longer lists (ad-hoc command-line sources, removed ones)."""
    found = [source_status(registry, s) for s in sources]
    names = {s.name for s in sources}
    for name in registry.known_sources():
        if name not in names:
            found.append(source_status(registry, Source(name=name, kind="urls", urls=["http://unknown.invalid/"]),
                                       configured=False))
    return found
