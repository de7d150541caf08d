"""Deployments from the source catalogue: one Prefect deployment per enabled, scheduled source.

``evidence-hub schedule serve`` serves them all from one process (:func:`serve_sources`); the
``prefect.yaml`` at the top of the clone deploys the same flow (:func:`ingest_source`) to a work
pool. Each deployment is named after its source, runs ``ingest_source(source=<name>)`` and has
``concurrency_limit=1`` so a slow crawl never overlaps the next tick of the same source.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow

from config.sources import Source

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

FLOW_NAME = "ingest-source"


@flow(name=FLOW_NAME, retries=1, retry_delay_seconds=60, validate_parameters=True)
def ingest_source(source: str, config: str | None = None, force: bool = False) -> dict[str, Any]:
    """Ingest one configured source by name (the entry point of every deployment).

    ``config``: a settings file (as ``--config``); ``force``: crawl even when the source's
    adaptive cadence says it is not due yet. Returns the run summary as JSON-ready data, or
    ``{"skipped": ..., "next_due": ...}`` when an adaptive source is not due. A flow retry runs
    the whole ingestion again: every task really runs again (no result cache), and documents
    already indexed are found unchanged, never duplicated.
    """
    from config import load_settings, load_sources
    from flows.context import HubContext
    from flows.ingest import run_ingest
    from flows.ops import is_due

    settings = load_settings(config)
    by_name = {s.name: s for s in load_sources(settings.sources_file)}
    if source not in by_name:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(sorted(by_name))}")
    chosen = by_name[source]
    if not force:
        ctx = HubContext(settings)
        try:
            due, when = is_due(chosen, ctx.registry)
        finally:
            ctx.close()
        if not due:
            return {"skipped": f"{source} is not due yet (adaptive re-crawl)", "next_due": when.isoformat()}
    return run_ingest([chosen], settings, fetch_task_retries=None).model_dump(mode="json")


def scheduled(sources: list[Source]) -> list[Source]:
    """The enabled sources that have a schedule, in catalogue order."""
    return [s for s in sources if s.enabled and s.schedule is not None]


def deployment_parameters(source: Source, config: Path | str | None = None) -> dict[str, Any]:
    """The flow parameters of ``source``'s deployment."""
    return {"source": source.name, "config": str(Path(config).resolve()) if config else None, "force": False}


def build_deployments(sources: list[Source], config: Path | str | None = None) -> list[RunnerDeployment]:
    """One :class:`RunnerDeployment` of :func:`ingest_source` per enabled, scheduled source
    (named after the source, with its cron or interval schedule, tags ``evidence-hub`` and
    ``source:<name>``). Building contacts no server."""
    from prefect.schedules import Cron, Interval

    deployments = []
    for source in scheduled(sources):
        schedule = source.schedule
        when = (Cron(schedule.cron, timezone=schedule.timezone) if schedule.cron
                else Interval(schedule.interval, timezone="UTC"))
        deployments.append(ingest_source.to_deployment(
            name=source.name, schedules=[when], parameters=deployment_parameters(source, config),
            tags=["evidence-hub", f"source:{source.name}"], concurrency_limit=1,
            description=source.description or f"Ingest the {source.kind} source {source.name}",
        ))
    return deployments


def serve_sources(sources: list[Source], config: Path | str | None = None, *, limit: int | None = None) -> None:
    """Serve every scheduled source's deployment from this process until interrupted (creates or
    updates the deployments on the Prefect server named by ``PREFECT_API_URL``, else on this
    process's own ephemeral server: :func:`flows.prefect_api.use_private_ephemeral_api`)."""
    from prefect import serve

    from flows.prefect_api import use_private_ephemeral_api

    use_private_ephemeral_api()

    deployments = build_deployments(sources, config)
    if not deployments:
        raise ValueError("no enabled source has a schedule; add 'schedule: {cron: ...}' or 'interval' to one")
    serve(*deployments, limit=limit, print_starting_message=True)


def prefect_yaml(sources: list[Source], work_pool: str = "evidence-hub", config: Path | str | None = None) -> str:
    """A ``prefect.yaml`` that deploys the same deployments as :func:`build_deployments` to
    ``work_pool`` (``prefect deploy --all`` from the clone; each worker runs the flow from the
    clone's directory, which ``prefect deploy`` records as the pull step)."""
    import yaml

    entries = []
    for source in scheduled(sources):
        schedule = source.schedule
        when = ({"cron": schedule.cron, "timezone": schedule.timezone} if schedule.cron
                else {"interval": int(schedule.interval.total_seconds()), "timezone": "UTC"})
        entries.append({
            "name": source.name, "entrypoint": "flows/schedule.py:ingest_source",
            "description": source.description or f"Ingest the {source.kind} source {source.name}",
            "parameters": deployment_parameters(source, config), "schedules": [when],
            "tags": ["evidence-hub", f"source:{source.name}"], "concurrency_limit": 1,
            "work_pool": {"name": work_pool, "work_queue_name": "default"},
        })
    document = {"name": "evidence-hub", "prefect-version": "3.9.1", "build": None, "push": None,
                "deployments": entries}
    head = ("# Generated by `evidence-hub schedule export` from config/sources.yaml: one deployment of the\n"
            "# flow ingest-source per enabled, scheduled source. Regenerate after editing the sources,\n"
            "# then `prefect deploy --all` (see README, 'Scheduling and operations').\n")
    return head + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
