"""Browsing without query text: the index's documents with filters, facets and date order.

The index contract searches by text only (every query needs ``text``). Researchers also want
"everything in theme T3 and policy area P2, newest first" and a gap map of the whole index, so
this module keeps a light copy of every document's metadata and labels (no text), read through
the contract (``ids`` + ``get``) and re-read when the index's document or chunk count changes,
after the API's own writes, and at most :data:`MAX_AGE_S` seconds after the last read (writes by
other processes, such as a relabelling, change no count).

Filters and facets mean what they mean in :mod:`index.query` (label ids exact; publisher,
source, document type and language case-insensitive; the year range inclusive, undated
documents left out).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from index.backend import SearchIndex
from index.query import CASELESS_FIELDS, FacetValue, LabelRef, SearchFilters, SearchHit, caseless_key, facet_values

MAX_AGE_S = 60.0


@dataclass(frozen=True)
class Entry:
    """One document's metadata and labels (what browsing, facets and the gap map need)."""

    hit: SearchHit
    year: int | None
    labels: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class BrowsePage:
    """A page of browsed documents: hits (newest first), the total and the facets asked for."""

    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]]


def _entry(doc) -> Entry:
    refs = lambda labels: [LabelRef(**label.model_dump()) for label in labels]  # noqa: E731
    hit = SearchHit(id=doc.id, url=doc.url, title=doc.title, score=0.0, publisher=doc.publisher, source=doc.source,
                    published_date=doc.published_date, doc_type=doc.doc_type, language=doc.language,
                    themes=refs(doc.themes), policy_areas=refs(doc.policy_areas),
                    evidence_types=refs(doc.evidence_types))
    labels = {"theme": frozenset(l.id for l in doc.themes), "policy_area": frozenset(l.id for l in doc.policy_areas),
              "evidence_type": frozenset(l.id for l in doc.evidence_types)}
    return Entry(hit=hit, year=doc.published_date.year if doc.published_date else None, labels=labels)


def _values(entry: Entry, facet: str) -> list[str]:
    """The values ``entry`` has for a facet name of :data:`index.query.FACETS`."""
    if facet in entry.labels:
        return sorted(entry.labels[facet])
    if facet == "year":
        return [str(entry.year)] if entry.year is not None else []
    value = getattr(entry.hit, facet, None)
    return [str(value)] if value else []


def matches(entry: Entry, filters: SearchFilters) -> bool:
    """Whether ``entry`` passes every given filter (see :class:`index.query.SearchFilters`)."""
    for name, wanted in filters.model_dump(exclude_none=True).items():
        if name in entry.labels:
            if wanted not in entry.labels[name]:
                return False
        elif name == "year_from":
            if entry.year is None or entry.year < wanted:
                return False
        elif name == "year_to":
            if entry.year is None or entry.year > wanted:
                return False
        else:
            value = getattr(entry.hit, name, None)
            if value is None or caseless_key(str(value)) != caseless_key(str(wanted)):
                return False
    return True


class Catalogue:
    """The cached metadata of every indexed document, for browsing and whole-index counts."""

    def __init__(self, index: SearchIndex):
        self._index = index
        self._lock = threading.Lock()
        self._entries: list[Entry] | None = None
        self._key: tuple[int, int] | None = None
        self._read_at = 0.0

    def invalidate(self) -> None:
        """Forget the copy (after a write); the next use reads the index again."""
        with self._lock:
            self._entries = None

    def entries(self) -> list[Entry]:
        """Every document, newest first (undated last, then by id)."""
        key = (self._index.count(), self._index.chunk_count())
        with self._lock:
            fresh = time.monotonic() - self._read_at < MAX_AGE_S
            if self._entries is None or key != self._key or not fresh:
                docs = (self._index.get(doc_id) for doc_id in self._index.ids())
                entries = [_entry(doc) for doc in docs if doc is not None]
                entries.sort(key=lambda e: (e.hit.published_date is None,
                                            -(e.hit.published_date or date.min).toordinal(), e.hit.id))
                self._entries, self._key, self._read_at = entries, key, time.monotonic()
            return self._entries

    def browse(self, filters: SearchFilters, facets: list[str], limit: int, offset: int = 0,
               facet_size: int = 50) -> BrowsePage:
        """The documents that pass ``filters``, newest first: ``limit`` from ``offset``, the total,
        and the counts of ``facets`` over all of them."""
        members = [e for e in self.entries() if matches(e, filters)]
        counts = {name: Counter(v for e in members for v in _values(e, name)) for name in facets}
        return BrowsePage(total=len(members), hits=[e.hit for e in members[offset:offset + limit]],
                          facets={name: facet_values(counts[name], facet_size, fold_case=name in CASELESS_FIELDS)
                                  for name in facets})

    def gap_map(self, filters: SearchFilters) -> dict[tuple[str, str], int]:
        """Documents per (theme id, policy area id) among those passing ``filters``."""
        cells: Counter = Counter()
        for entry in self.entries():
            if matches(entry, filters):
                for theme in entry.labels["theme"]:
                    for area in entry.labels["policy_area"]:
                        cells[(theme, area)] += 1
        return dict(cells)
