"""The index contract: one protocol that every backend (embedded, OpenSearch) implements.

The same contract test suite (tests/test_index_contract.py) runs unchanged against each.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from core.models import Chunk, IndexedDocument
from index.query import SearchFilters, SearchQuery, SearchResponse


class IndexMismatch(RuntimeError):
    """The index cannot be used as configured (e.g. it holds vectors of another dimension, or of
    another embedding model)."""


@dataclass(frozen=True)
class EmbeddingModelId:
    """Which embedding model wrote an index's vectors: ``name`` as configured (``embedding.model``)
    and ``digest``, the SHA-256 (hex) of the model folder's files
    (:func:`index.embedding.model_folder_digest`). Two models of one dimension (all-MiniLM-L6-v2
    and bge-small-en-v1.5 both give 384) write vectors that cannot be compared; the digest tells
    them apart where the dimension cannot. The name is for messages only: one folder configured
    by package name or by path is the same model."""

    name: str
    digest: str

    def as_dict(self) -> dict[str, str]:
        """``{"name", "digest"}``, as stored in the index."""
        return {"name": self.name, "digest": self.digest}

    @classmethod
    def from_json(cls, raw: str | None) -> EmbeddingModelId | None:
        """The id in ``raw`` (JSON of :meth:`as_dict`, as the embedded index stores it); None when
        ``raw`` is None, not JSON or not such an object."""
        try:
            return cls.from_dict(json.loads(raw)) if raw else None
        except ValueError:
            return None

    @classmethod
    def from_dict(cls, stored: object) -> EmbeddingModelId | None:
        """The id stored by :meth:`as_dict`; None for anything else (an index written before ids)."""
        if isinstance(stored, dict) and isinstance(stored.get("digest"), str):
            return cls(name=str(stored.get("name") or "?"), digest=stored["digest"])
        return None


def check_embedding_model(stored: EmbeddingModelId | None, current: EmbeddingModelId | None, where: str) -> bool:
    """Whether ``current`` should be recorded for the index at ``where`` (it holds no id yet: a new
    index, or one written before ids were kept, which adopts the configured model). Raises
    IndexMismatch when the index's vectors come from another model than ``current``."""
    if current is None:
        return False
    if stored is None:
        return True
    if stored.digest != current.digest:
        raise IndexMismatch(
            f"{where} holds vectors of the embedding model {stored.name!r} (files sha256 {stored.digest[:12]}), "
            f"but embedding.model is {current.name!r} (sha256 {current.digest[:12]}): semantic search would "
            "compare vectors of two different models. Set embedding.model back to that model, or ingest into "
            "a new data directory (EVIDENCE_HUB_HOME) or index_prefix with the new one")
    return False


def warn_adopted(where: str, model: EmbeddingModelId, stored: object, has_vectors: bool) -> None:
    """Log (WARNING) that the index at ``where``, which holds vectors (``has_vectors``) but no
    readable record of their model (``stored``: what was there, None when nothing), now records
    ``model``: the hub cannot tell whose vectors they are, so a wrong model would go unnoticed."""
    if not has_vectors:
        return  # an empty index: no vectors whose model is in doubt
    what = ("no record of the embedding model" if stored is None
            else f"an unreadable model record ({str(stored)[:60]!r})")
    logging.getLogger(__name__).warning(
        "%s holds vectors but %s; recording %r as their model. If another model wrote them, semantic search "
        "compares two models' vectors: ingest again into a new data directory or index_prefix", where, what,
        model.name)


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
