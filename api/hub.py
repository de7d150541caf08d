"""What the API and the web page do with the hub: search (encoding the query for semantic and
hybrid modes), browse, export, the gap map, and write jobs run one at a time in the background.

One :class:`Hub` per app: it opens a :class:`flows.context.HubContext` once (the model and the
index connection are shared by every request; both are thread-safe).
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.catalogue import Catalogue
from api.export import FORMATS, ExportRecord
from api.saved import FEED_SIZE, SavedSearches
from config.settings import Settings
from core.models import utcnow
from flows.context import HubContext
from index.query import SearchFilters, SearchQuery, SearchResponse

EXPORT_PAGE = 500  # documents per index request while streaming an export


class GapMap(BaseModel):
    """Documents per theme × policy area among a result set (or the whole index)."""

    themes: list[dict[str, str]] = Field(description="Rows: {id, label} of every theme")
    policy_areas: list[dict[str, str]] = Field(description="Columns: {id, label} of every policy area")
    cells: dict[str, dict[str, int]] = Field(
        description="theme id -> policy area id -> documents (cells with no document are left out)")
    total: int = Field(description="Documents in the result set (labelled or not)")


class Job(BaseModel):
    """A write job (ingestion or reclassification) run in the background."""

    id: str
    kind: Literal["ingest", "reclassify"]
    state: Literal["queued", "running", "completed", "failed"] = "queued"
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = Field(None, description="The run summary / relabel counts when completed")
    error: str | None = None


class Busy(RuntimeError):
    """A write job is already queued or running."""


class Hub:
    """The shared resources of one app, and the operations its routes call."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.ctx = HubContext(settings)
        self.catalogue = Catalogue(self.ctx.index)
        self._jobs: dict[str, Job] = {}
        self._jobs_lock = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-write")

    def close(self) -> None:
        """Wait for a running write job, then close the index, registry, pools and saved searches,
        and stop the temporary Prefect server an ingest job started (none runs when
        ``PREFECT_API_URL`` names a server). Prefect stops it at interpreter exit, but uvicorn ends
        on SIGTERM by re-raising the signal, which skips exit handlers and left it running."""
        self._writer.shutdown(wait=True, cancel_futures=True)
        if "saved" in self.__dict__:
            self.saved.close()
        self.ctx.close()
        from prefect.server.api.server import SubprocessASGIServer

        SubprocessASGIServer().stop()  # the instance ingest runs used, or a new idle one: stop() is then a no-op

    @cached_property
    def saved(self) -> SavedSearches:
        """The saved searches of the data directory (``<home>/saved_searches.sqlite``)."""
        return SavedSearches(self.settings.home / "saved_searches.sqlite")

    def feed_documents(self, query: SearchQuery | None, filters: SearchFilters, size: int = FEED_SIZE,
                       depth: int = 1000) -> list:
        """The ``size`` most recently indexed documents among the first ``depth`` that match a
        search (or the filtered index), newest indexed first."""
        ids = [r.id for r in self.export_records(query, filters, depth)]
        docs = [d for d in (self.ctx.index.get(i) for i in ids) if d is not None]
        return sorted(docs, key=lambda d: (d.indexed_at, d.id), reverse=True)[:size]

    # -- reads --------------------------------------------------------------------------------
    def search(self, query: SearchQuery) -> SearchResponse:
        """Run ``query`` on the index (the query text is embedded for semantic and hybrid modes).
        Raises ValueError for a query the index rejects (e.g. a cursor of another query)."""
        vector = self.ctx.embedder.encode([query.text], "query")[0] if query.mode != "bm25" else None
        return self.ctx.index.search(query, vector)

    def export_records(self, query: SearchQuery | None, filters: SearchFilters, limit: int
                       ) -> Iterator[ExportRecord]:
        """Every document of a search (or, without a query, of the filtered index, newest first),
        up to ``limit``, read page by page through the cursor. The first page is read at once
        (so a bad query fails before anything is sent); the rest as the caller iterates."""
        if query is None:
            hits = self.catalogue.browse(filters, [], limit).hits
            return (r for r in (self._record(h.id, None) for h in hits) if r is not None)
        first = self.search(query.model_copy(update={"limit": min(EXPORT_PAGE, limit), "facets": []}))
        vector = self.ctx.embedder.encode([query.text], "query")[0] if query.mode != "bm25" else None

        def walk() -> Iterator[ExportRecord]:
            """The records, page by page."""
            response, sent = first, 0
            while True:
                for hit in response.hits:
                    record = self._record(hit.id, hit.score)
                    if record is not None:
                        yield record
                        sent += 1
                        if sent >= limit:
                            return
                if response.next_cursor is None or not response.hits:
                    return
                page = query.model_copy(update={"cursor": response.next_cursor, "offset": 0, "facets": [],
                                                "limit": min(EXPORT_PAGE, limit - sent)})
                response = self.ctx.index.search(page, vector)

        return walk()

    def _record(self, doc_id: str, score: float | None) -> ExportRecord | None:
        doc = self.ctx.index.get(doc_id)
        return ExportRecord.from_document(doc, score) if doc is not None else None

    def export_stream(self, records: Iterator[ExportRecord], fmt: str) -> Iterator[str]:
        """The text of an export, a header then one piece per record."""
        spec = FORMATS[fmt]
        if spec.header:
            yield spec.header
        for record in records:
            yield spec.write(record)

    def gap_map(self, query: SearchQuery | None, filters: SearchFilters) -> GapMap:
        """Documents per theme × policy area: of the result set of ``query`` (one facet count of
        policy areas per theme, each within the query's filters plus that theme), or of the
        filtered index when there is no query."""
        taxonomy = self.ctx.taxonomy
        cells: dict[str, dict[str, int]] = {}
        if query is None:
            for (theme, area), count in self.catalogue.gap_map(filters).items():
                cells.setdefault(theme, {})[area] = count
            total = self.catalogue.browse(filters, [], 1).total
        else:
            vector = self.ctx.embedder.encode([query.text], "query")[0] if query.mode != "bm25" else None
            base = query.model_copy(update={"limit": 1, "offset": 0, "cursor": None, "facets": ["theme"]})
            response = self.ctx.index.search(base, vector)
            total = response.total
            for value in response.facets.get("theme", []):
                per_theme = base.model_copy(update={
                    "filters": query.filters.model_copy(update={"theme": value.value}), "facets": ["policy_area"],
                    "facet_size": 1000})
                counts = self.ctx.index.search(per_theme, vector).facets.get("policy_area", [])
                if counts:
                    cells[value.value] = {c.value: c.count for c in counts}
        return GapMap(themes=[{"id": t.id, "label": t.label} for t in taxonomy.themes],
                      policy_areas=[{"id": p.id, "label": p.label} for p in taxonomy.policy_areas],
                      cells=cells, total=total)

    # -- write jobs ---------------------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        """A job by id (None when unknown)."""
        with self._jobs_lock:
            job = self._jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def submit(self, kind: Literal["ingest", "reclassify"], params: dict[str, Any],
               work: Callable[[], dict[str, Any]]) -> Job:
        """Queue a write job; raises :class:`Busy` when another one is queued or running."""
        with self._jobs_lock:
            if any(j.state in ("queued", "running") for j in self._jobs.values()):
                raise Busy("another write job is queued or running; wait for it (GET /jobs/{id})")
            job = Job(id=uuid.uuid4().hex, kind=kind, params=params)
            self._jobs[job.id] = job
        self._writer.submit(self._run, job.id, work)
        return job.model_copy(deep=True)

    def _run(self, job_id: str, work: Callable[[], dict[str, Any]]) -> None:
        self._update(job_id, state="running", started_at=utcnow())
        try:
            result = work()
        except Exception as exc:  # a failed job is reported on the job, never lost
            traceback.print_exc()
            self._update(job_id, state="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}")
        else:
            self._update(job_id, state="completed", finished_at=utcnow(), result=result)
        finally:
            self.catalogue.invalidate()

    def _update(self, job_id: str, **values: Any) -> None:
        with self._jobs_lock:
            job = self._jobs[job_id]
            self._jobs[job_id] = job.model_copy(update=values)

    def ingest(self, sources: list) -> Job:
        """Queue an ingestion run of ``sources`` (:class:`config.sources.Source`)."""
        from flows.ingest import run_ingest

        def work() -> dict[str, Any]:
            """The job's work; its result is kept on the job."""
            return run_ingest(sources, self.settings).model_dump(mode="json")

        return self.submit("ingest", {"sources": [s.name for s in sources]}, work)

    def reclassify(self) -> Job:
        """Queue a reclassification of every indexed document (classify.relabel)."""
        from dataclasses import asdict

        from classify.relabel import reclassify_index

        def work() -> dict[str, Any]:
            """The job's work; its result is kept on the job."""
            return asdict(reclassify_index(self.ctx.index, self.ctx.classifier, self.ctx.embedder))

        return self.submit("reclassify", {}, work)

    def delete(self, doc_id: str) -> bool:
        """Delete a document from the index; True when it existed."""
        deleted = self.ctx.index.delete(doc_id)
        self.catalogue.invalidate()
        return deleted
