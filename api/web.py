"""The web page for researchers: server-rendered Jinja templates over the same :class:`api.hub.Hub`.

``/`` searches (or, without query text, browses the index newest first) with a mode switch, facet
filters with counts, results with highlighted snippets and labels, a results-per-year chart, the
evidence gap map (themes × policy areas; a cell filters the results) and export links.
``/doc/{id}`` shows one document: metadata with provenance, labels with their evidence, links to
the source, its text and similar documents. Everything works without JavaScript; the little
there is (static/app.js) only submits the form when the mode or sort changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError

from api.auth import read_access
from api.hub import Hub
from api.params import FILTER_FIELDS, MAX_PAGE_SIZE, GapMapParams, SearchParams, param_loc
from index.query import FACETS

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
PAGE_SIZE = 20
FACET_SHOWN = 8
FACET_TITLES = {"theme": "Theme", "policy_area": "Policy area", "evidence_type": "Evidence type",
                "publisher": "Publisher", "year": "Year", "doc_type": "Document type", "language": "Language",
                "source": "Source"}
FILTER_TITLES = FACET_TITLES | {"year_from": "From year", "year_to": "To year"}
FORM_FIELDS = ("q", "mode", "sort", *FILTER_FIELDS)


def snippet_html(snippet: str) -> Markup:
    """A snippet for HTML: everything escaped except the index's ``<mark>`` highlights."""
    escaped = str(escape(" ".join(snippet.split())))
    return Markup(escaped.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))


def page_anchor(url: str, page: int | None) -> str:
    """The source URL, pointing at ``page`` of a PDF (``#page=N``, understood by PDF viewers)."""
    if page and url.lower().split("?", 1)[0].endswith(".pdf"):
        return f"{url}#page={page}"
    return url


TEMPLATES.env.filters["snippet"] = snippet_html
TEMPLATES.env.globals["page_anchor"] = page_anchor


class PageState:
    """The form values of one request of the search page, and links that change them."""

    def __init__(self, values: dict[str, str]):
        self.values = {k: v for k, v in values.items() if k in FORM_FIELDS and v not in ("", None)}

    def get(self, name: str, default: str = "") -> str:
        """A form value (``default`` when absent)."""
        return self.values.get(name, default)

    def url(self, path: str = "/", **changes: Any) -> str:
        """``path`` with the current values, ``changes`` applied (None removes a value)."""
        values = dict(self.values)
        for key, value in changes.items():
            if value is None or value == "":
                values.pop(key, None)
            else:
                values[key] = str(value)
        return path + ("?" + urlencode(values) if values else "")


def _label_namer(hub: Hub):
    taxonomy = hub.ctx.taxonomy

    def name(facet: str, value: str) -> str:
        """A facet value as people read it."""
        if facet in ("theme", "policy_area", "evidence_type"):
            return f"{value} {taxonomy.label_name(value)}"
        if facet == "doc_type":
            return value.replace("_", " ")
        return value

    return name


def _year_chart(values: list, state: PageState) -> dict | None:
    """Bars of documents per year (oldest first), with geometry for the inline SVG."""
    years = sorted(((int(v.value), v.count) for v in values if str(v.value).isdigit()))
    if not years:
        return None
    top = max(c for _, c in years)
    height, bar = 160, max(6, min(36, 220 // len(years)))
    bars = []
    for i, (year, count) in enumerate(years):
        h = round(110 * count / top)
        bars.append({"year": year, "count": count, "x": 20 + i * (bar + 4), "y": 130 - h, "h": h, "w": bar,
                     "url": state.url(year_from=year, year_to=year, cursor=None, offset=None)})
    return {"bars": bars, "width": max(240, 36 + len(years) * (bar + 4)), "height": height}


def register_web(app: FastAPI) -> None:
    """Add the web routes (left out of the OpenAPI spec) to ``app``."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(read_access)])
    def search_page(request: Request):
        """The search page (browsing the index newest first when there is no query text)."""
        from api.app import get_hub

        hub = get_hub(request)
        raw = dict(request.query_params)
        state = PageState(raw)
        error = None
        hits, total, facets, next_url, gap = [], 0, {}, None, None
        try:
            offset_text = (raw.get("offset") or "0").strip()
            if not (offset_text.isascii() and offset_text.isdigit()) or int(offset_text) > 100_000:
                raise ValueError("offset must be a whole number from 0 to 100000")
            offset = int(offset_text)
            params = GapMapParams(**{k: v for k, v in state.values.items() if k in GapMapParams.model_fields})
            filters = params.filters()
            unknown = hub.ctx.taxonomy.unknown_filter_ids(filters.model_dump())
            if unknown:
                raise ValueError("; ".join(f"{name}: {message}" for name, message in unknown.items()))
            if params.q:
                search = SearchParams(**{k: v for k, v in state.values.items() if k in SearchParams.model_fields},
                                      limit=PAGE_SIZE, facets=list(FACETS), facet_size=200,
                                      cursor=raw.get("cursor") or None, offset=offset)
                response = hub.search(search.to_query())
                hits, total, facets = response.hits, response.total, response.facets
                if response.next_cursor:
                    next_url = state.url(cursor=response.next_cursor, offset=None)
                gap = hub.gap_map(search.to_query(facets=[], cursor=None), filters)
            else:
                browse = hub.catalogue.browse(filters, list(FACETS), PAGE_SIZE, offset, facet_size=200)
                hits, total, facets = browse.hits, browse.total, browse.facets
                if offset + PAGE_SIZE < total:
                    next_url = state.url(offset=offset + PAGE_SIZE)
                gap = hub.gap_map(None, filters)
        except ValidationError as exc:
            error = "; ".join(f"{'.'.join(str(p) for p in param_loc(tuple(e['loc']))) or 'query'}: "
                              f"{str(e['msg']).removeprefix('Value error, ')}"
                              for e in exc.errors()[:5])
        except ValueError as exc:
            error = str(exc)
        name = _label_namer(hub)
        facet_blocks = []
        for facet in FACETS:
            values = facets.get(facet, [])
            if not values or facet == "year":
                continue
            entries = [{"value": v.value, "label": name(facet, v.value), "count": v.count,
                        "active": state.get(facet).casefold() == v.value.casefold(),
                        "url": state.url(**{facet: v.value}, cursor=None, offset=None)} for v in values]
            facet_blocks.append({"name": facet, "title": FACET_TITLES.get(facet, facet), "entries": entries})
        active = [{"name": f, "title": FILTER_TITLES.get(f, f), "label": name(f, state.get(f)),
                   "url": state.url(**{f: None}, cursor=None, offset=None)}
                  for f in FILTER_FIELDS if state.get(f)]
        exports = [{"format": fmt, "title": title, "url": state.url("/export", format=fmt, cursor=None, offset=None)}
                   for fmt, title in (("csv", "CSV"), ("ris", "RIS"), ("bibtex", "BibTeX"), ("jsonl", "JSON Lines"))]
        gap_view = None
        if gap is not None:
            top = max((c for row in gap.cells.values() for c in row.values()), default=0)
            rows = []
            for theme in gap.themes:
                cells = []
                for area in gap.policy_areas:
                    count = gap.cells.get(theme["id"], {}).get(area["id"], 0)
                    cells.append({"count": count, "area": area, "level": 0 if not count else 1 + round(3 * count / top),
                                  "active": state.get("theme") == theme["id"] and state.get("policy_area") == area["id"],
                                  "url": state.url(theme=theme["id"], policy_area=area["id"], cursor=None, offset=None)})
                rows.append({"theme": theme, "cells": cells})
            gap_view = {"areas": gap.policy_areas, "rows": rows, "total": gap.total}
        context = {
            "state": state, "error": error, "hits": hits, "total": total, "facets": facet_blocks, "active": active,
            "next_url": next_url, "exports": exports, "gap": gap_view, "page_size": PAGE_SIZE,
            "chart": _year_chart(facets.get("year", []), state), "max_page": MAX_PAGE_SIZE,
            "browsing": not state.get("q"),
        }
        return TEMPLATES.TemplateResponse(request, "search.html", context, status_code=422 if error else 200)

    @app.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[Depends(read_access)])
    def document_page(request: Request, doc_id: str):
        """One document: metadata with provenance, labels with evidence, links, text, similar documents."""
        from api.app import get_hub

        hub = get_hub(request)
        doc = hub.ctx.index.get(doc_id) if len(doc_id) <= 200 else None
        if doc is None:
            return TEMPLATES.TemplateResponse(request, "not_found.html", {"doc_id": doc_id}, status_code=404)
        try:
            similar = hub.ctx.index.similar(doc_id, 5).hits
        except (KeyError, ValueError):
            similar = []
        fields = [("Authors", "authors", "; ".join(doc.authors)), ("Publisher", "publisher", doc.publisher),
                  ("Published", "published_date", doc.published_date.isoformat() if doc.published_date else None),
                  ("Document type", "doc_type", doc.doc_type.replace("_", " ")), ("Language", "language", doc.language),
                  ("Pages", "page_count", doc.page_count), ("Words", "word_count", doc.word_count),
                  ("Source", "source", doc.source), ("Indexed", "indexed_at", doc.indexed_at.strftime("%Y-%m-%d %H:%M"))]
        rows = [{"title": t, "value": v, "provenance": doc.provenance.get(k)} for t, k, v in fields
                if v not in (None, "")]
        label_groups = [("Policy areas", doc.policy_areas), ("Themes", doc.themes),
                        ("Evidence types", doc.evidence_types)]
        return TEMPLATES.TemplateResponse(request, "document.html", {
            "doc": doc, "rows": rows, "label_groups": label_groups, "similar": similar,
            "title_provenance": doc.provenance.get("title")})
