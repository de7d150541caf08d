"""Query-string parameters of the API, built from the index's query model.

The parameter models are generated from :class:`index.query.SearchQuery` and
:class:`index.query.SearchFilters`, so a field added to the query model (a new filter, a new
option) becomes a query parameter of ``GET /search`` without a change here. Two things differ
from the query model: the text is ``q`` (the usual name in a URL), and the API caps the page size
(:data:`MAX_PAGE_SIZE`) and the query length (:data:`MAX_QUERY_CHARS`) below the index's limits.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo

from index.query import SearchFilters, SearchQuery

MAX_PAGE_SIZE = 100      # results per page of GET /search
MAX_QUERY_CHARS = 500    # characters of query text
MAX_SIMILAR = 50         # results of GET /documents/{id}/similar
EXPORT_FORMATS = ("csv", "ris", "bibtex", "jsonl")
ExportFormat = Literal["csv", "ris", "bibtex", "jsonl"]

FILTER_FIELDS: tuple[str, ...] = tuple(SearchFilters.model_fields)
PAGING_FIELDS = ("limit", "offset", "cursor")
FACET_FIELDS = ("facets", "facet_size")
_QUERY_FIELDS = tuple(name for name in SearchQuery.model_fields if name not in ("text", "filters"))
if set(FILTER_FIELDS) & set(_QUERY_FIELDS) or "q" in FILTER_FIELDS + _QUERY_FIELDS:  # pragma: no cover
    raise RuntimeError("a filter and a query option share a name; the flat query string cannot hold both")

LIST_FIELDS = {name for name, info in SearchQuery.model_fields.items()
                if getattr(info.annotation, "__origin__", None) is list}

_DESCRIPTIONS = {
    "mode": "bm25 (keywords), semantic (meaning, kNN over chunk embeddings) or hybrid (both, fused by "
            "reciprocal rank fusion)",
    "facets": "Facets to count over the whole result set (repeat the parameter or separate names by commas)",
    "facet_size": "Values per facet (most frequent first)",
    "sort": "relevance, or date (newest first, undated last)",
    "limit": f"Results per page (at most {MAX_PAGE_SIZE})",
    "offset": "Results to skip (or use cursor)",
    "cursor": "The next_cursor of the previous page of the same query (offset must then be 0)",
    "theme": "Theme id, e.g. T3 (see /taxonomy)",
    "policy_area": "Policy area id, e.g. P2 (see /taxonomy)",
    "evidence_type": "Evidence type id, e.g. E1 (see /taxonomy)",
    "publisher": "Publisher (case-insensitive, exact)",
    "source": "Source name (see /sources)",
    "doc_type": "Document type, e.g. report, evaluation, blog_post",
    "language": "Language code, e.g. en",
    "year_from": "Earliest publication year (inclusive; undated documents are left out)",
    "year_to": "Latest publication year (inclusive)",
}


def _field(name: str, info: FieldInfo) -> tuple[Any, FieldInfo]:
    """A copy of a query-model field for the query string, with the API's own page-size cap."""
    field = copy.copy(info)
    if name == "limit":
        field = Field(10, ge=1, le=MAX_PAGE_SIZE)
    if field.description is None and name in _DESCRIPTIONS:
        field = copy.copy(field)
        field.description = _DESCRIPTIONS[name]
    return info.annotation, field


class _FlatParams(BaseModel):
    """Shared behaviour of the generated parameter models: unknown parameters are errors, and a
    list parameter (``facets``) may be given as ``a,b`` as well as repeated."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):  # a blank filter (a form's empty field, year_from= too) is no filter
            data = {k: v for k, v in data.items() if not (k in FILTER_FIELDS and isinstance(v, str) and not v.strip())}
            for name in LIST_FIELDS & set(data):
                value = data[name]
                items = value if isinstance(value, list) else [value]
                data[name] = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        return data

    @model_validator(mode="after")
    def _filters_valid(self) -> "_FlatParams":
        """The filters' own rules (e.g. ``year_from`` not after ``year_to``) as a 422 of the query string."""
        try:
            self.filters()
        except ValidationError as exc:
            raise ValueError("; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())) from None
        return self

    def filters(self) -> SearchFilters:
        """The filters given (SearchFilters validates them)."""
        return SearchFilters(**{name: getattr(self, name) for name in FILTER_FIELDS
                                if getattr(self, name, None) is not None})

    def to_query(self, **overrides: Any) -> SearchQuery:
        """The :class:`SearchQuery` these parameters describe (``overrides`` win). Raises
        pydantic.ValidationError when the combination is invalid (e.g. a cursor with an offset)."""
        values = {name: getattr(self, name) for name in _QUERY_FIELDS if name in type(self).model_fields}
        values = {k: v for k, v in values.items() if v is not None}
        return SearchQuery(text=self.q, filters=self.filters(), **(values | overrides))


def _model(name: str, doc: str, *, q_required: bool, exclude: tuple[str, ...] = (),
           extra: dict[str, tuple[Any, FieldInfo]] | None = None) -> type[_FlatParams]:
    q_field = Field(... if q_required else None, min_length=1, max_length=MAX_QUERY_CHARS,
                    description='Query text: words, "exact phrases", AND/OR/NOT (upper case), prefix*, '
                                'title:word / title:"phrase" (titles only)')
    fields: dict[str, tuple[Any, FieldInfo]] = {"q": (str if q_required else str | None, q_field)}
    for field_name in _QUERY_FIELDS:
        if field_name not in exclude:
            fields[field_name] = _field(field_name, SearchQuery.model_fields[field_name])
    for field_name in FILTER_FIELDS:
        fields[field_name] = _field(field_name, SearchFilters.model_fields[field_name])
    fields.update(extra or {})
    model = create_model(name, __base__=_FlatParams, __doc__=doc, **fields)
    return model


SearchParams = _model(
    "SearchParams", "The query string of GET /search: q, mode, sort, paging, facets and every filter.",
    q_required=True)

ExportParams = _model(
    "ExportParams", "The query string of GET /export: a search (without paging or facets) and the format.",
    q_required=False, exclude=PAGING_FIELDS + FACET_FIELDS,
    extra={"format": (ExportFormat, Field("csv", description="csv, ris (reference managers), bibtex or jsonl")),
           "max_results": (int, Field(10_000, ge=1, le=10_000, description="Stop after this many documents"))})

GapMapParams = _model(
    "GapMapParams", "The query string of GET /gapmap: an optional search and filters.",
    q_required=False, exclude=PAGING_FIELDS + FACET_FIELDS + ("sort",))

SimilarParams = create_model(
    "SimilarParams", __base__=_FlatParams, __doc__="The query string of GET /documents/{id}/similar.",
    limit=(int, Field(10, ge=1, le=MAX_SIMILAR, description=f"Results (at most {MAX_SIMILAR})")),
    **{name: _field(name, SearchFilters.model_fields[name]) for name in FILTER_FIELDS})


def param_loc(loc: tuple) -> tuple:
    """A query-model location as the query string (and the search form) names it: the model's
    ``text`` is ``q``, filters are flat (``("filters", "year_from")`` -> ``("year_from",)``)."""
    if loc[:1] == ("text",):
        return ("q", *loc[1:])
    if loc[:1] == ("filters",):
        return loc[1:]
    return loc


def strict_query_string(allowed: "Iterable[str] | type[BaseModel]", repeatable: Iterable[str] = ()):
    """A FastAPI dependency that refuses, as a 422 naming the parameter, a query-string parameter
    the endpoint does not take (``allowed``: names, or a parameter model whose fields they are) and
    a parameter given more than once unless it is ``repeatable`` (a list such as ``facets``):
    FastAPI would otherwise ignore the first and keep the last value of ``?mode=bm25&mode=semantic``
    silently. Raises ``fastapi.exceptions.RequestValidationError``."""
    names = set(allowed.model_fields) if isinstance(allowed, type) else set(allowed)
    lists = set(repeatable)

    def check(request: Request) -> None:
        seen: dict[str, int] = {}
        for key, _ in request.query_params.multi_items():
            seen[key] = seen.get(key, 0) + 1
        errors = [{"loc": ("query", key), "msg": "Extra inputs are not permitted", "type": "extra_forbidden",
                   "input": key} for key in seen if key not in names]
        errors += [{"loc": ("query", key), "msg": f"given {count} times: give it once", "type": "value_error",
                    "input": key} for key, count in seen.items() if key in names and count > 1 and key not in lists]
        if errors:
            raise RequestValidationError(errors)

    return check
