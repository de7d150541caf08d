"""Operator commands: ``status``, ``retry-failed`` and ``schedule list|serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from cli.common import ConfigOption, console, err, load_cli_settings

schedule_app = typer.Typer(help="Scheduled ingestion: Prefect deployments built from config/sources.yaml.",
                           no_args_is_help=True)


def _catalogue(settings):
    from config import ConfigError, load_sources

    try:
        return load_sources(settings.sources_file)
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def _duration(seconds: float | None) -> str:
    """``seconds`` as a short human duration (``3d 4h``, ``12m``, ``40s``); ``-`` for None."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join(parts[:2]) or f"{secs}s"


def status(
    source: list[str] = typer.Option([], "--source", help="Only these sources (repeatable)"),
    config: Optional[Path] = ConfigOption,
    json_out: bool = typer.Option(False, "--json", help="One JSON object with a 'sources' list"),
) -> None:
    """Per source: last run, state, counts, errors, back-off, freshness and re-crawl cadence."""
    from crawl.registry import Registry
    from flows.ops import all_status

    settings = load_cli_settings(config)
    catalogue = _catalogue(settings)
    registry = Registry(settings.registry_path)
    try:
        found = all_status(registry, catalogue)
    finally:
        registry.close()
    if source:
        unknown = sorted(set(source) - {s.name for s in found})
        if unknown:
            err.print(f"[red]unknown source(s): {', '.join(unknown)}[/red]")
            raise typer.Exit(2)
        found = [s for s in found if s.name in source]
    else:  # configured sources that never ran and hold nothing would only add noise
        found = [s for s in found if s.state != "never run" or s.enabled or sum(s.documents.values())]
    if json_out:
        print(json.dumps({"registry": str(settings.registry_path),
                          "sources": [s.model_dump(mode="json") for s in found]}, indent=2))
        return
    for s in found:
        backoff = sum(h.get("backoff_s", 0.0) for h in s.hosts.values())
        paused = [h["paused_until"] for h in s.hosts.values() if h.get("paused_until")]
        back = (f"{backoff:.0f}s" + (f", paused until {max(paused)[11:19]}" if paused else "")) if backoff else "none"
        fresh = s.freshness
        fresh_text = (f"median {_duration(fresh.since_first_seen_median_s)}, p90 "
                      f"{_duration(fresh.since_first_seen_p90_s)} over {fresh.documents} docs" if fresh.documents
                      else "-")
        cadence = s.recrawl
        nxt = "unscheduled" if cadence is None else (
            ("now" if cadence.next_due is None else cadence.next_due.strftime("%Y-%m-%d %H:%M UTC"))
            + f" (every {_duration(cadence.interval_s)}{', adaptive' if cadence.adaptive else ''})")
        last = s.last_run_started.strftime("%Y-%m-%d %H:%M UTC") if s.last_run_started else "never"
        counts = " · ".join(f"{name.replace('_', ' ')} {s.last_run.get(name, 0)}"
                            for name in ("discovered", "indexed", "unchanged", "duplicates", "failed"))
        colour = {"completed": "green", "running": "yellow"}.get(s.state, "red")
        console.print(f"[bold]{escape(s.name)}[/bold]  [{colour}]{s.state}[/{colour}]  last run {last}"
                      + ("" if s.configured else "  [dim](not in the catalogue)[/dim]"))
        if s.last_run:
            console.print(f"  last run: {counts}")
        console.print(f"  documents: {s.documents.get('indexed', 0)} indexed, {len(s.errors)} failed now · "
                      f"back-off: {back}")
        console.print(f"  freshness (first seen -> indexed): {fresh_text} · next crawl: {nxt}")
    for s in found:
        for error in s.errors[:10]:
            console.print(f"[red]✗[/red] {escape(s.name)} {escape(error['url'])} "
                          f"[dim]({error['stage']})[/dim] {escape(error['reason'] or '')}")
        if len(s.errors) > 10:
            console.print(f"  … and {len(s.errors) - 10} more failed documents of {escape(s.name)} (--json for all)")


def retry_failed(
    source: Optional[str] = typer.Option(None, "--source", help="Only this source"),
    now: bool = typer.Option(False, "--now", help="Ingest the affected sources right away"),
    config: Optional[Path] = ConfigOption,
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON"),
) -> None:
    """Re-queue failed documents: the next run of their source fetches them again (``--now``: run it now)."""
    from crawl.registry import Registry
    from flows.ops import all_status

    settings = load_cli_settings(config)
    registry = Registry(settings.registry_path)
    try:
        if source is not None:  # as `status --source`: a misspelt name re-queued nothing, silently
            known = {s.name for s in all_status(registry, _catalogue(settings))}
            if source not in known:
                shown = source[:80] + ("…" if len(source) > 80 else "")
                err.print(f"[red]unknown source: {escape(repr(shown))}[/red]; known: {escape(', '.join(sorted(known)))}")
                raise typer.Exit(2)
        counts = registry.requeue_failed(source)
    finally:
        registry.close()
    total = sum(counts.values())
    if json_out and not now:
        print(json.dumps({"requeued": total, "sources": counts}))
    elif not json_out:
        console.print(f"re-queued {total} failed document(s)"
                      + (": " + ", ".join(f"{n} of {escape(k)}" for k, n in sorted(counts.items())) if counts else ""))
    if now and counts:
        from flows.ingest import run_ingest

        by_name = {s.name: s for s in _catalogue(settings)}
        chosen = [by_name[name] for name in sorted(counts) if name in by_name]
        missing = sorted(set(counts) - set(by_name))
        if missing:
            err.print(f"not in the catalogue, re-queued for its next ingest: {', '.join(missing)}")
        if chosen:
            summary = run_ingest(chosen, settings, console=None if json_out else console)
            if json_out:
                print(json.dumps({"requeued": total, "sources": counts,
                                  "run": summary.model_dump(mode="json")}))
            else:
                from cli.main import print_summary

                print_summary(summary)


@schedule_app.command("list")
def schedule_list(
    config: Optional[Path] = ConfigOption,
    json_out: bool = typer.Option(False, "--json", help="One JSON object with a 'deployments' list"),
) -> None:
    """The deployments ``schedule serve`` would serve: name, schedule, next run, parameters."""
    from crawl.registry import Registry
    from flows.ops import describe_schedule, next_runs, recrawl
    from flows.schedule import FLOW_NAME, deployment_parameters, scheduled

    settings = load_cli_settings(config)
    chosen = scheduled(_catalogue(settings))
    registry = Registry(settings.registry_path)
    rows = []
    try:
        for s in chosen:
            cadence = recrawl(s, registry.source_runs(s.name, limit=50))
            nxt = next_runs(s, 1)
            rows.append({"name": f"{FLOW_NAME}/{s.name}", "source": s.name, "schedule": describe_schedule(s),
                         "next_run": nxt[0].isoformat() if nxt else None,
                         "adaptive_interval_s": cadence.interval_s if cadence and cadence.adaptive else None,
                         "next_due": cadence.next_due.isoformat() if cadence and cadence.next_due else None,
                         "parameters": deployment_parameters(s, config)})
    finally:
        registry.close()
    if json_out:
        print(json.dumps({"deployments": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} deployment(s) of flow {FLOW_NAME}")
    for column in ("deployment", "schedule", "next run (UTC)", "adaptive interval"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row["name"]), escape(row["schedule"] or ""), (row["next_run"] or "-")[:16],
                      _duration(row["adaptive_interval_s"]) if row["adaptive_interval_s"] else "-")
    console.print(table)


@schedule_app.command("export")
def schedule_export(
    work_pool: str = typer.Option("evidence-hub", "--work-pool", help="Work pool the deployments run in"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here (default: print)"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Write a prefect.yaml deploying the same deployments to a work pool (``prefect deploy --all``)."""
    from flows.schedule import prefect_yaml

    settings = load_cli_settings(config)
    text = prefect_yaml(_catalogue(settings), work_pool, config)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {escape(str(output))}")


@schedule_app.command("serve")
def schedule_serve(
    config: Optional[Path] = ConfigOption,
    limit: Optional[int] = typer.Option(None, "--limit", help="Most flow runs at once in this process"),
) -> None:
    """Serve every enabled, scheduled source as a Prefect deployment from this process (Ctrl-C stops).

    Re-run after editing config/sources.yaml: the deployments are updated by name. Point
    ``PREFECT_API_URL`` at a Prefect server (``make prefect-server``) to see them in the UI."""
    from flows.schedule import serve_sources

    settings = load_cli_settings(config)
    try:
        serve_sources(_catalogue(settings), config, limit=limit)
    except ValueError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
