"""Run records: each source's part of an ingestion run, written to the registry and published as
Prefect artifacts (a table of counts and a table of failures with reasons).

The registry copy is what ``evidence-hub status`` reads; the artifacts are what an operator sees
on the flow run's page in the Prefect UI (keys ``ingest-<source>`` and ``ingest-<source>-failures``,
so each source's artifacts form one history across runs).
"""

from __future__ import annotations

import logging
import re

from pydantic import Field

from config.sources import Source
from core.models import RunSummary
from crawl.politeness import HostStats
from crawl.registry import Registry

COUNT_FIELDS = ("discovered", "fetched", "not_modified", "unchanged", "duplicates", "extracted", "indexed",
                "skipped", "failed")

log = logging.getLogger(__name__)


class IngestSummary(RunSummary):
    """The run summary plus each host's request counters and back-off state (``host[:port]``)."""

    hosts: dict[str, HostStats] = Field(default_factory=dict)


def artifact_key(source: str, suffix: str = "") -> str:
    """A Prefect artifact key for ``source`` (keys allow lower-case letters, digits and dashes)."""
    key = re.sub(r"[^a-z0-9-]+", "-", f"ingest-{source}{suffix}".lower())
    return key.strip("-")


def hosts_of(source: Source, hosts: dict[str, HostStats]) -> dict[str, HostStats]:
    """The entries of ``hosts`` (``host[:port]``) that belong to ``source``'s allowed domains."""
    if source.kind == "directory":
        return {}
    return {key: stats for key, stats in hosts.items() if source.allows_host(key.rsplit(":", 1)[0])}


def publish_artifacts(source: str, summary: IngestSummary, state: str) -> None:
    """Publish ``summary`` as Prefect table artifacts of the current flow run: counts (with the
    state and each host's back-off), and failures with stage and reason when there are any.

    Outside a flow run Prefect keeps nothing; an API error is logged, never raised (the run's own
    record is in the registry)."""
    from prefect.artifacts import create_table_artifact

    counts = [{"count": "state", "value": state}] + [
        {"count": name, "value": getattr(summary, name)} for name in COUNT_FIELDS]
    for host, stats in sorted(summary.hosts.items()):
        counts.append({"count": f"host {host}", "value": f"{stats.requests} requests, {stats.retries} retries, "
                       f"{stats.throttled}x429, {stats.server_errors}x5xx, back-off {stats.backoff_s:.1f}s"})
    try:
        create_table_artifact(counts, key=artifact_key(source),
                              description=f"Ingestion of source **{source}**: {state}")
        if summary.failures:
            rows = [{"url": f.url, "stage": f.stage, "reason": f.reason} for f in summary.failures]
            create_table_artifact(rows, key=artifact_key(source, "-failures"),
                                  description=f"Documents of **{source}** that did not make it, with the reason")
    except Exception as exc:  # noqa: BLE001 - the registry record stands; the UI copy is a convenience
        log.warning("could not publish the run artifacts of %s: %s", source, exc)


class SourceRecorder:
    """Keeps each source's summary during a run and records its start and end (registry + artifacts)."""

    def __init__(self, registry: Registry, run_id: str):
        self.registry = registry
        self.run_id = run_id
        self.parts: dict[str, IngestSummary] = {}
        self._open: dict[str, Source] = {}

    def start(self, source: Source) -> IngestSummary:
        """Record that ``source``'s part starts; returns its summary to count into."""
        from prefect.runtime import flow_run

        part = IngestSummary(sources=[source.name])
        self.parts[source.name] = part
        self._open[source.name] = source
        self.registry.start_source_run(self.run_id, source.name, flow_run.get_id())
        return part

    def finish(self, source: Source, state: str, hosts: dict[str, HostStats] | None = None) -> IngestSummary:
        """Record the end of ``source``'s part with ``state`` and its hosts' counters."""
        from core.models import utcnow

        part = self.parts[source.name]
        part.hosts = hosts_of(source, hosts or {})
        part.finished_at = utcnow()
        self.registry.finish_source_run(self.run_id, source.name, part, state)
        publish_artifacts(source.name, part, state)
        self._open.pop(source.name, None)
        return part

    def close(self, hosts: dict[str, HostStats] | None = None) -> None:
        """Record every part still open (the run was cut short) as crashed."""
        for source in list(self._open.values()):
            self.finish(source, "crashed", hosts)
