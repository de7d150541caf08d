"""The query model shared by every index backend, and the result shapes."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator

SearchMode = Literal["bm25", "semantic", "hybrid"]
RRF_K = 60  # Cormack, Clarke & Buettcher (2009), "Reciprocal rank fusion outperforms Condorcet..."


class SearchFilters(BaseModel):
    """Filters; every given field must match (AND)."""

    theme: str | None = None
    policy_area: str | None = None
    publisher: str | None = None
    doc_type: str | None = None
    language: str | None = None
    year_from: int | None = Field(None, ge=1000, le=3000)
    year_to: int | None = Field(None, ge=1000, le=3000)


class SearchQuery(BaseModel):
    """A search: query text, retrieval mode, filters and paging (``limit`` results from ``offset``)."""

    text: str = Field(min_length=1, max_length=1000)
    mode: SearchMode = "hybrid"
    filters: SearchFilters = SearchFilters()
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query text is blank")
        return value.strip()


class LabelRef(BaseModel):
    """A label on a hit: id, human label, score and evidence."""

    id: str
    label: str
    score: float
    uncertain: bool = False
    terms: list[str] = Field(default_factory=list)
    passages: list[str] = Field(default_factory=list)


class SearchHit(BaseModel):
    """One document in a result list: its best chunk's snippet and page, and its labels."""

    id: str
    url: str
    title: str | None
    score: float
    publisher: str | None = None
    published_date: date | None = None
    doc_type: str | None = None
    language: str | None = None
    page: int | None = None
    snippet: str = ""
    themes: list[LabelRef] = Field(default_factory=list)
    policy_areas: list[LabelRef] = Field(default_factory=list)


class SearchResponse(BaseModel):
    """Hits for one page of results, and how many documents matched in all."""

    query: SearchQuery
    total: int
    hits: list[SearchHit]


TOKEN_RE = re.compile(r'"[^"]*"|\S+')
WORD_RE = re.compile(r"\w+", re.UNICODE)


class QueryTerm(BaseModel):
    """One clause of a parsed query: ``words`` (a phrase when more than one), whether it is a
    prefix, and the operator joining it to the clause before it (``OR`` by default)."""

    words: list[str]
    prefix: bool = False
    operator: Literal["AND", "OR", "NOT"] = "OR"


def parse_query(text: str) -> list[QueryTerm]:
    """Parse the user query language into clauses; every backend renders the same clauses.

    Supported: ``"exact phrase"``, ``AND`` / ``OR`` / ``NOT`` (upper case, between clauses),
    ``prefix*``; other words are ORed (BM25 ranking puts documents with more terms first).
    Punctuation inside a word makes it a phrase (``post-16`` -> ``"post 16"``); a leading
    operator is ignored.
    """
    terms: list[QueryTerm] = []
    pending: str | None = None
    for token in TOKEN_RE.findall(text):
        if token in ("AND", "OR", "NOT"):
            if terms:
                pending = token
            continue
        words = WORD_RE.findall(token)
        if not words:
            continue
        prefix = token.endswith("*") and not token.startswith('"') and len(words) == 1
        terms.append(QueryTerm(words=words, prefix=prefix, operator=pending or "OR"))
        pending = None
    return terms


def to_fts5_query(text: str) -> str | None:
    """Render :func:`parse_query` clauses in SQLite FTS5 syntax (None when nothing is left)."""
    parts: list[str] = []
    for term in parse_query(text):
        rendered = '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")
        parts.extend([term.operator, rendered] if parts else [rendered])
    return " ".join(parts) if parts else None


def title_key(text: str) -> str:
    """Normalised title for exact matching: NFKC, case-folded, punctuation removed, spaces single."""
    return " ".join(WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


def query_terms(text: str) -> list[str]:
    """Lower-cased words of a query (for highlighting), without operators and short words."""
    return [w.lower() for w in WORD_RE.findall(text) if len(w) > 2 and w not in ("AND", "OR", "NOT")]


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = sum over lists of 1 / (k + rank), rank from 1.

    Source: Cormack, Clarke & Buettcher, SIGIR 2009. Returns (id, score) best first.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def fuse(mode: SearchMode, bm25: list[tuple[str, float]], semantic: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The document ranking of a mode from the per-retriever rankings (best first): bm25 or
    semantic as they are, hybrid by :func:`reciprocal_rank_fusion`."""
    if mode == "bm25":
        return list(bm25)
    if mode == "semantic":
        return list(semantic)
    return reciprocal_rank_fusion([[d for d, _ in bm25], [d for d, _ in semantic]])


def exact_title_first(ranked: list[tuple[str, float]], exact: set[str]) -> list[tuple[str, float]]:
    """Move documents whose whole title equals the query (``exact``) to the front, in their
    existing order; exact matches the ranking lacks follow them, by id, with the top score.
    (The keyword sub-field match of search engines, ``title.keyword`` boosted.)"""
    if not exact:
        return ranked
    top = max((score for _, score in ranked), default=0.0)
    known = {d for d, _ in ranked}
    first = [(d, s) for d, s in ranked if d in exact] + [(d, top) for d in sorted(exact - known)]
    return first + [(d, s) for d, s in ranked if d not in exact]


def highlight(text: str, terms: list[str], *, width: int = 240) -> str:
    """A window of ``text`` around the first query term, with terms wrapped in ``<mark>``."""
    if not text:
        return ""
    lowered = text.lower()
    positions = [lowered.find(t) for t in terms if lowered.find(t) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    window = text[start:start + width]
    if terms:
        pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)) + r")",
                             re.I)
        window = pattern.sub(r"<mark>\1</mark>", window)
    return ("… " if start else "") + window + (" …" if start + width < len(text) else "")
