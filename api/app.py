"""The Evidence Hub HTTP API (FastAPI) and the web page, one app: :func:`create_app`.

Read endpoints: ``/search``, ``/documents/{id}``, ``/documents/{id}/similar``, ``/taxonomy``,
``/sources``, ``/health``, ``/export``, ``/gapmap``, ``/jobs/{id}``. Write endpoints (bearer
token, see :mod:`api.auth`): ``POST /ingest``, ``POST /reclassify``, ``DELETE /documents/{id}``.
Every error is JSON :class:`api.schemas.ErrorBody`; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import AuthConfig, read_access, require_token
from api.hub import Busy, GapMap, Hub, Job
from api.params import (LIST_FIELDS, ExportParams, GapMapParams, SearchParams, SimilarParams, param_loc,
                        strict_query_string)
from api.saved import SavedSearch, SavedSearchIn
from api.schemas import Deleted, ErrorBody, ErrorItem, Health, IngestRequest, SourceInfo
from api.sources_status import SourceState, read_source_states
from config.settings import Settings
from config.taxonomy import Taxonomy
from core.models import IndexedDocument
from index.query import SearchFilters, SearchQuery, SearchResponse

STATIC_DIR = Path(__file__).parent / "static"
DocId = Annotated[str, PathParam(min_length=1, max_length=200, description="Document id (from a search hit)")]


def _version() -> str:
    try:
        return version("evidence-hub")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "0.0.0"


def _errors(exc: ValidationError | RequestValidationError, prefix: tuple = ()) -> list[ErrorItem]:
    items = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        loc = param_loc(loc) if prefix else loc
        loc = [p if isinstance(p, (str, int)) else str(p) for p in (*prefix, *loc)]
        items.append(ErrorItem(loc=loc, msg=str(error.get("msg", "")).removeprefix("Value error, "),
                               type=str(error.get("type", "value_error"))))
    return items


def _error_response(status: int, detail: str, errors: list[ErrorItem] | None = None,
                    headers: dict | None = None) -> JSONResponse:
    body = ErrorBody(detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def validation_error(exc: ValidationError | RequestValidationError, prefix: tuple = ()) -> JSONResponse:
    """A 422 answer listing each problem, with a one-line summary."""
    items = _errors(exc, prefix)
    summary = "; ".join(f"{'.'.join(str(p) for p in i.loc[1:] or i.loc) or 'request'}: {i.msg}" for i in items[:5])
    return _error_response(422, f"invalid request: {summary}", items)


ERRORS = {status: {"model": ErrorBody, "description": text} for status, text in (
    (400, "The index rejected the query (e.g. a cursor of another query), or the body is not JSON"),
    (401, "Missing or wrong bearer token"),
    (403, "Writes are switched off (no token configured)"),
    (404, "Not found"),
    (409, "Another write job is running"),
    (422, "Invalid parameters"),
    (503, "The index cannot be reached"),
)}


def _responses(*statuses: int) -> dict:
    return {s: ERRORS[s] for s in statuses}


def get_hub(request: Request) -> Hub:
    """The app's :class:`Hub`, with its index open (503 when it cannot be opened)."""
    hub: Hub = request.app.state.hub
    try:
        hub.ctx.index  # noqa: B018 - opens it once; cached afterwards
    except Exception as exc:  # OpenSearch down, dimension mismatch, ...
        raise HTTPException(503, f"the index cannot be opened: {exc}") from None
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def _search_or_filters(params: ExportParams | GapMapParams) -> tuple[SearchQuery | None, SearchFilters]:
    """The search of a ``/export`` or ``/gapmap`` request (None without ``q``: the filtered index)
    and its filters. Raises ``pydantic.ValidationError`` for a query or filter out of range."""
    return (params.to_query() if params.q is not None else None), params.filters()


def create_app(settings: Settings | None = None, *, api_token: str | None = None,
               protect_reads: bool | None = None) -> FastAPI:
    """The app. ``settings`` default to :func:`config.load_settings`; the token and read
    protection default to the environment (:mod:`api.auth`)."""
    from config import load_settings

    settings = settings or load_settings()
    auth = AuthConfig.from_env()
    auth = AuthConfig(token=(api_token if api_token is not None else auth.token) or None,
                      protect_reads=auth.protect_reads if protect_reads is None else protect_reads)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        """Open the hub at start-up, close it at shutdown."""
        hub = Hub(settings)
        app.state.hub = hub
        try:
            hub.ctx.index  # noqa: B018 - load the model and open the index before the first request
        except Exception:  # reported by /health and every route as a 503
            pass
        yield
        hub.close()

    app = FastAPI(
        title="Evidence Hub API",
        version=_version(),
        description="Search the Evidence Hub's index of published evidence: full-text (BM25), semantic and "
                    "hybrid search with filters, facets and cursors; documents with labels and their evidence; "
                    "the taxonomy; sources; exports for reference managers. Write endpoints need a bearer token.",
        lifespan=lifespan,
    )
    app.state.auth = auth
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def _on_validation(request: Request, exc: RequestValidationError):
        return validation_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: StarletteHTTPException):
        return _error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    reads = [Depends(read_access)]

    def strict(allowed=(), lists=LIST_FIELDS):
        """The dependency refusing parameters the endpoint does not take, or repeats (422)."""
        return Depends(strict_query_string(allowed, lists))

    def known_labels(request: Request) -> None:
        """Refuse (422) a theme, policy area or evidence type id the taxonomy lacks: it would
        silently find nothing."""
        problems = request.app.state.hub.ctx.taxonomy.unknown_filter_ids(dict(request.query_params))
        if problems:
            raise RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}
                                          for name, message in problems.items()])

    labelled = Depends(known_labels)
    # Reads take the token only when EVIDENCE_HUB_API_PROTECT_READS is on: "bearer or nothing".
    optional_token = {"security": [{}]}

    @app.get("/search", response_model=SearchResponse, tags=["search"],
             dependencies=[*reads, strict(SearchParams), labelled], openapi_extra=optional_token,
             responses=_responses(400, 401, 422, 503))
    def search(params: Annotated[SearchParams, Query()], hub: HubDep):
        """Search the index: ``q`` in ``mode`` bm25, semantic or hybrid, every filter of the query
        model, facets counted over the whole result set, ``sort`` by relevance or date, and
        paging by ``cursor`` (``next_cursor`` of the previous page) or ``offset``. Snippets hold
        ``<mark>`` highlights around matched words; the rest of a snippet is plain, unescaped text."""
        try:
            query = params.to_query()
        except ValidationError as exc:
            return validation_error(exc, ("query",))
        try:
            return hub.search(query)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/documents/{doc_id}", response_model=IndexedDocument, tags=["documents"],
             dependencies=[*reads, strict(["text"])], openapi_extra=optional_token,
             responses=_responses(401, 404, 422, 503))
    def document(doc_id: DocId, hub: HubDep,
                 text: Annotated[bool, Query(description="Include the full text")] = True):
        """A document: metadata with each field's provenance, labels with scores and evidence
        (keywords and passages), every URL it was seen at, quality flags and (by default) its text."""
        doc = hub.ctx.index.get(doc_id)
        if doc is None:
            raise HTTPException(404, f"no document {doc_id!r} in the index")
        return doc if text else doc.model_copy(update={"text": ""})

    @app.get("/documents/{doc_id}/similar", response_model=SearchResponse, tags=["documents"],
             dependencies=[*reads, strict(SimilarParams), labelled], openapi_extra=optional_token,
             responses=_responses(400, 401, 404, 422, 503))
    def similar(doc_id: DocId, params: Annotated[SimilarParams, Query()], hub: HubDep):
        """More like this: the documents nearest in meaning to this one, within the filters."""
        try:
            return hub.ctx.index.similar(doc_id, params.limit, params.filters())
        except KeyError:
            raise HTTPException(404, f"no document {doc_id!r} in the index") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/taxonomy", response_model=Taxonomy, tags=["taxonomy"], dependencies=[*reads, strict()],
             openapi_extra=optional_token,
             responses=_responses(401, 422))
    def taxonomy(request: Request):
        """Themes, policy areas and evidence types with ids, labels, descriptions and keywords."""
        return request.app.state.hub.ctx.taxonomy

    @app.get("/sources", response_model=list[SourceInfo], tags=["sources"], dependencies=[*reads, strict()],
             openapi_extra=optional_token,
             responses=_responses(401, 422))
    def sources(request: Request):
        """Every source: the catalogue's (configured) and any other the registry has seen, with URL
        counts per state, the newest fetch and index times, and the last run with its counts."""
        from config import ConfigError, load_sources

        try:
            catalogue = load_sources(settings.sources_file)
        except ConfigError as exc:
            raise HTTPException(503, f"the source catalogue cannot be read: {exc}") from None
        states = read_source_states(settings.registry_path)
        answer = []
        for s in catalogue:
            location = s.url or (str(s.path) if s.path else ", ".join(s.urls)) or None
            answer.append(SourceInfo(
                name=s.name, configured=True, kind=s.kind, location=location, publisher=s.publisher,
                enabled=s.enabled, schedule=s.schedule.model_dump(mode="json", exclude_none=True) if s.schedule else None,
                description=s.description, state=states.pop(s.name, SourceState())))
        answer.extend(SourceInfo(name=name, configured=False, state=state) for name, state in sorted(states.items()))
        return answer

    @app.get("/health", response_model=Health, tags=["meta"], dependencies=[strict()], responses=_responses(422, 503))
    def health(hub: HubDep):
        """Whether the index answers, its size, the backend and the embedding model."""
        try:
            stats = hub.ctx.index.stats()
        except Exception as exc:
            raise HTTPException(503, f"the index does not answer: {exc}") from None
        return Health(status="ok", version=app.version, backend=settings.index.backend,
                      documents=stats["documents"], chunks=stats["chunks"], embedding_model=settings.embedding.model,
                      writes_enabled=auth.token is not None)

    @app.get("/export", tags=["export"], dependencies=[*reads, strict(ExportParams), labelled],
             openapi_extra=optional_token, responses={
        200: {"description": "The whole result set, streamed", "content": {
            "text/csv": {}, "application/x-research-info-systems": {}, "application/x-bibtex": {},
            "application/x-ndjson": {}}}, **_responses(400, 401, 422, 503)})
    def export(params: Annotated[ExportParams, Query()], hub: HubDep):
        """Every document of a search (or without ``q``, of the filtered index, newest first), up to
        ``max_results``, as CSV, RIS, BibTeX or JSON Lines, streamed as it is read."""
        from api.export import FORMATS

        try:
            query, filters = _search_or_filters(params)
        except ValidationError as exc:
            return validation_error(exc, ("query",))
        try:
            records = hub.export_records(query, filters, params.max_results)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        spec = FORMATS[params.format]
        return StreamingResponse(hub.export_stream(records, params.format), media_type=spec.media_type, headers={
            "Content-Disposition": f'attachment; filename="evidence-hub-export.{spec.suffix}"'})

    @app.get("/gapmap", response_model=GapMap, tags=["search"],
             dependencies=[*reads, strict(GapMapParams), labelled], openapi_extra=optional_token,
             responses=_responses(400, 401, 422, 503))
    def gapmap(params: Annotated[GapMapParams, Query()], hub: HubDep):
        """The evidence gap map: documents per theme × policy area, for a search (``q``) or the
        filtered index."""
        try:
            query, filters = _search_or_filters(params)
        except ValidationError as exc:
            return validation_error(exc, ("query",))
        try:
            return hub.gap_map(query, filters)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    # -- writes ---------------------------------------------------------------------------------
    writes = [Depends(require_token), strict()]

    @app.post("/ingest", response_model=Job, status_code=202, tags=["admin"], dependencies=writes,
              responses=_responses(400, 401, 403, 404, 409, 422))
    def ingest(body: IngestRequest, hub: HubDep):
        """Start an ingestion run of catalogue sources (by name; none given: every enabled one).
        Answers at once with the job; follow it with ``GET /jobs/{id}``."""
        from config import ConfigError, load_sources

        try:
            catalogue = {s.name: s for s in load_sources(settings.sources_file)}
        except ConfigError as exc:
            raise HTTPException(503, f"the source catalogue cannot be read: {exc}") from None
        unknown = [n for n in body.sources if n not in catalogue]
        if unknown:  # names cut short: the answer does not echo a 100 KB name back
            shown = ", ".join(repr(n[:80] + ("…" if len(n) > 80 else "")) for n in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise HTTPException(404, f"unknown source(s) {shown}{more}; known: {', '.join(sorted(catalogue))}")
        chosen = [catalogue[n] for n in dict.fromkeys(body.sources)] or [s for s in catalogue.values() if s.enabled]
        try:
            return hub.ingest(chosen)
        except Busy as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/reclassify", response_model=Job, status_code=202, tags=["admin"], dependencies=writes,
              responses=_responses(401, 403, 409, 422))
    def reclassify(hub: HubDep):
        """Start relabelling every document with the current taxonomy and classifier (no fetching)."""
        try:
            return hub.reclassify()
        except Busy as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get("/jobs/{job_id}", response_model=Job, tags=["admin"], dependencies=[*reads, strict()], openapi_extra=optional_token,
             responses=_responses(401, 404, 422))
    def job(job_id: Annotated[str, PathParam(max_length=64)], request: Request):
        """A write job's state and, when it is done, its result or error."""
        found = request.app.state.hub.job(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id!r} (jobs live as long as the server process)")
        return found

    @app.delete("/documents/{doc_id}", response_model=Deleted, tags=["admin"], dependencies=writes,
                responses=_responses(401, 403, 404, 422, 503))
    def delete(doc_id: DocId, hub: HubDep):
        """Remove a document from the index. The next ingestion of a source that still lists it
        indexes it again."""
        if not hub.delete(doc_id):
            raise HTTPException(404, f"no document {doc_id!r} in the index")
        return Deleted(deleted=doc_id)

    # -- saved searches -------------------------------------------------------------------------
    @app.post("/saved-searches", response_model=SavedSearch, status_code=201, tags=["saved searches"],
              dependencies=writes, responses=_responses(400, 401, 403, 422))
    def save_search(body: SavedSearchIn, hub: HubDep):
        """Save a search (parameters as for ``GET /export``: ``q`` optional, mode, sort, filters); its
        Atom feed lists the matching documents, most recently indexed first."""
        try:
            _search_or_filters(ExportParams(**body.params))  # the query too: a feed must not fail later
        except ValidationError as exc:
            return validation_error(exc, ("body", "params"))
        problems = hub.ctx.taxonomy.unknown_filter_ids(body.params)
        if problems:
            return validation_error(RequestValidationError([
                {"loc": ("body", "params", name), "msg": message, "type": "value_error"}
                for name, message in problems.items()]))
        return hub.saved.add(body)

    @app.get("/saved-searches", response_model=list[SavedSearch], tags=["saved searches"],
             dependencies=[*reads, strict()],
             openapi_extra=optional_token, responses=_responses(401, 422))
    def saved_searches(hub: HubDep):
        """Every saved search."""
        return hub.saved.all()

    @app.get("/saved-searches/{saved_id}/feed", tags=["saved searches"], dependencies=[*reads, strict()],
             openapi_extra=optional_token, responses={
                 200: {"description": "Atom feed", "content": {"application/atom+xml": {}}},
                 **_responses(400, 401, 404, 422, 503)})
    def saved_search_feed(saved_id: Annotated[str, PathParam(max_length=64)], request: Request, hub: HubDep):
        """The Atom feed of a saved search: matching documents, most recently indexed first (50)."""
        from fastapi.responses import Response

        from api.saved import atom_feed

        saved = hub.saved.get(saved_id)
        if saved is None:
            raise HTTPException(404, f"no saved search {saved_id!r}")
        try:
            params = ExportParams(**saved.params)
        except ValidationError as exc:  # saved under an older query model
            return validation_error(exc, ("saved", "params"))
        try:
            docs = hub.feed_documents(params.to_query() if params.q is not None else None, params.filters())
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        body = atom_feed(saved, docs, str(request.base_url).rstrip("/"))
        return Response(body, media_type="application/atom+xml")

    @app.delete("/saved-searches/{saved_id}", response_model=Deleted, tags=["saved searches"],
                dependencies=writes, responses=_responses(401, 403, 404, 422))
    def delete_saved_search(saved_id: Annotated[str, PathParam(max_length=64)], hub: HubDep):
        """Remove a saved search."""
        if not hub.saved.delete(saved_id):
            raise HTTPException(404, f"no saved search {saved_id!r}")
        return Deleted(deleted=saved_id)

    from api.web import register_web

    register_web(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
