"""The index contract: one protocol that every backend (embedded, OpenSearch) implements.

The same contract test suite (tests/test_index_contract.py) runs unchanged against each.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from core.models import Chunk, IndexedDocument
from index.query import SearchFilters, SearchQuery, SearchResponse


class IndexMismatch(RuntimeError):
    """The index cannot be used as configured (e.g. it holds vectors of another dimension)."""


@runtime_checkable
class SearchIndex(Protocol):
    """A search index of documents, their chunks and the chunks' embeddings.

    Vectors are float32, L2-normalised, shape (n, ``dimension``). Writes are upserts by the
    document's stable id: a document is replaced whole (metadata, chunks, vectors) or not at all.
    """

    dimension: int

    def upsert(self, doc: IndexedDocument, chunks: list[Chunk], vectors: np.ndarray,
               title_vector: np.ndarray | None = None) -> None:
        """Insert or replace ``doc`` with its chunks and vectors. Raises ValueError on bad shapes."""

    def upsert_many(self, items: list[tuple[IndexedDocument, list[Chunk], np.ndarray, np.ndarray | None]]) -> None:
        """Insert or replace many documents: ``items`` are ``(doc, chunks, vectors, title_vector)``
        as for :meth:`upsert`. The result equals calling :meth:`upsert` for each item in order (a
        doc id given twice: the last one wins), but with per-batch rather than per-document costs
        (one transaction, one bulk request stream, one refresh). Every item's shapes are checked
        first: ValueError means nothing was written. Writes are visible to searches on return."""

    def delete(self, doc_id: str) -> bool:
        """Delete a document; True when it existed."""

    def get(self, doc_id: str) -> IndexedDocument | None:
        """The stored document or None."""

    def content_hash_of(self, doc_id: str) -> str | None:
        """The stored content hash of ``doc_id`` or None."""

    def count(self) -> int:
        """Number of documents."""

    def chunk_count(self) -> int:
        """Number of text chunks."""

    def stats(self) -> dict:
        """A snapshot of counts (``documents``, ``chunks``) and backend-specific details."""

    def ids(self) -> list[str]:
        """All document ids, sorted."""

    def chunks_of(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks and their vectors (for reclassification)."""

    def search(self, query: SearchQuery, query_vector: np.ndarray | None = None) -> SearchResponse:
        """Documents for ``query`` (best chunk per document, its snippet with ``<mark>`` highlights
        and page). Semantic and hybrid modes need ``query_vector`` (shape (dimension,)).

        The result set of each mode, what ``total`` and the facets count, the date sort and the
        cursors are defined in :mod:`index.query`, identically for every backend. ``facets``:
        ``{name: [FacetValue(value, count)]}`` for each name of ``query.facets``, counts of
        documents of the whole result set (not just the page), count descending then value.
        ``next_cursor`` pages on without duplicates or gaps while the index does not change.
        Raises ValueError for a bad query, a missing or mis-shaped vector, or a cursor made by
        another query."""

    def similar(self, doc_id: str, limit: int = 10, filters: SearchFilters | None = None) -> SearchResponse:
        """More like this: up to ``limit`` (1..1000) documents nearest to ``doc_id``'s mean chunk
        vector (its title vector when it has no chunks), best first, never ``doc_id`` itself,
        within ``filters``; taken from the semantic candidates (``index.query.CANDIDATES``).
        Scores are cosines of each hit's best chunk. Raises KeyError for an unknown ``doc_id``
        and ValueError when it has no vector or ``limit`` is out of range."""

    def close(self) -> None:
        """Release connections and files."""
