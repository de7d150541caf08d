"""Each source's state from the document registry: URL counts per state, last run, freshness.

The registry (:mod:`crawl.registry`) has no query for runs by source or for the newest fetch
times, so this module reads its SQLite file directly, read-only (``mode=ro``: it never locks
writers out). The columns read are those of :data:`crawl.registry.SCHEMA`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from crawl.registry import STATES


class LastRun(BaseModel):
    """The newest ingestion run that included a source, with its summary counts."""

    run_id: str
    state: str = Field(description="running, completed or failed")
    sources: list[str] = Field(default_factory=list, description="Every source of the run (counts cover them all)")
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict, description="discovered, fetched, indexed, failed, ...")


class SourceState(BaseModel):
    """What the registry knows of one source."""

    urls: dict[str, int] = Field(default_factory=dict, description="URLs per state (pending, indexed, failed, ...)")
    first_seen: datetime | None = None
    last_fetched: datetime | None = None
    last_indexed: datetime | None = None
    last_run: LastRun | None = None


_COUNT_FIELDS = ("discovered", "fetched", "not_modified", "unchanged", "duplicates", "extracted", "indexed",
                 "skipped", "failed")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read_source_states(registry_path: Path) -> dict[str, SourceState]:
    """Every source the registry has seen, by name (empty when there is no registry yet)."""
    if not registry_path.exists():
        return {}
    db = sqlite3.connect(f"{registry_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        states: dict[str, SourceState] = {}
        for source, state, count in db.execute("SELECT source, state, COUNT(*) FROM urls GROUP BY source, state"):
            entry = states.setdefault(source, SourceState(urls={s: 0 for s in STATES}))
            entry.urls[state] = count
        for source, first, fetched, indexed in db.execute(
                "SELECT source, MIN(first_seen), MAX(last_fetched), MAX(last_indexed) FROM urls GROUP BY source"):
            entry = states[source]
            entry.first_seen, entry.last_fetched, entry.last_indexed = _time(first), _time(fetched), _time(indexed)
        for run_id, names, started, finished, state, summary in db.execute(
                "SELECT run_id, sources, started_at, finished_at, state, summary FROM runs ORDER BY started_at DESC"):
            data = json.loads(summary) if summary else {}
            counts = {k: int(data[k]) for k in _COUNT_FIELDS if isinstance(data.get(k), int)}
            for name in json.loads(names):
                entry = states.setdefault(name, SourceState(urls={s: 0 for s in STATES}))
                if entry.last_run is None:
                    entry.last_run = LastRun(run_id=run_id, state=state, sources=json.loads(names), started_at=_time(started),
                                             finished_at=_time(finished), counts=counts)
        return states
    finally:
        db.close()
