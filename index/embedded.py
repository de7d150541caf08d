"""The embedded index backend: one SQLite file (WAL, ACID), FTS5 BM25 over chunks with a title
field weighted above the body, exact kNN over chunk embeddings (numpy), hybrid by reciprocal
rank fusion, filters and snippets. One writer, many concurrent readers.

Layout: ``documents`` (one row per document, its JSON), ``labels`` (for filters and facets),
``chunks`` (text, page and float32 vector; ordinal -1 holds the title vector), ``chunks_fts``
(FTS5: the title on the first chunk only, so a title counts once per document).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np

from core.models import Chunk, IndexedDocument
from index.backend import IndexMismatch
from index.query import (
    LabelRef, SearchFilters, SearchHit, SearchQuery, SearchResponse, highlight, query_terms,
    exact_title_first, fuse, title_key, to_fts5_query,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, source TEXT NOT NULL, title TEXT, title_key TEXT, publisher TEXT,
  published_date TEXT, year INTEGER, language TEXT, doc_type TEXT, content_hash TEXT NOT NULL,
  indexed_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
  doc_id TEXT NOT NULL, kind TEXT NOT NULL, label_id TEXT NOT NULL, score REAL NOT NULL,
  PRIMARY KEY (doc_id, kind, label_id)
);
CREATE INDEX IF NOT EXISTS labels_label ON labels(kind, label_id);
CREATE INDEX IF NOT EXISTS documents_title_key ON documents(title_key);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL, page INTEGER,
  text TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

TITLE_WEIGHT = 4.0
BODY_WEIGHT = 1.0
CANDIDATES = 300


class EmbeddedIndex:
    """SQLite-backed search index at ``path``; ``dimension`` is the embedding size."""

    def __init__(self, path: Path, dimension: int):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.dimension = dimension
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        stored = self._meta("dimension")
        if stored is None:
            self._set_meta("dimension", str(dimension))
        elif int(stored) != dimension:
            raise IndexMismatch(f"{path} holds {stored}-dimensional embeddings but the model gives {dimension}; "
                              "re-index with the original model or use a new index path")
        self._matrix_cache: tuple[str, np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- housekeeping -----------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, value))

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, *rest):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, doc: IndexedDocument, chunks: list[Chunk], vectors: np.ndarray,
               title_vector: np.ndarray | None = None) -> None:
        """Insert or replace ``doc`` with its chunks and their vectors (shape (len(chunks), dim)),
        atomically. Raises ValueError when shapes do not match."""
        self._check_shapes(chunks, vectors)
        with self._lock, self._transaction():
            self._write_rows(doc, chunks, vectors, title_vector)
            self._bump_generation()

    def upsert_many(self, items: list[tuple[IndexedDocument, list[Chunk], np.ndarray, np.ndarray | None]]) -> None:
        """Insert or replace every ``(doc, chunks, vectors, title_vector)`` of ``items`` in ONE
        transaction: the same rows as :meth:`upsert` per item, in order (a repeated doc id: the
        last one wins), all or nothing. Every item's shapes are checked before anything is written
        (ValueError naming the document)."""
        for doc, chunks, vectors, _ in items:
            try:
                self._check_shapes(chunks, vectors)
            except ValueError as exc:
                raise ValueError(f"document {doc.id}: {exc}") from None
        if not items:
            return
        with self._lock, self._transaction():
            for doc, chunks, vectors, title_vector in items:
                self._write_rows(doc, chunks, vectors, title_vector)
            self._bump_generation()

    def _check_shapes(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        if vectors.shape != (len(chunks), self.dimension):
            raise ValueError(f"vectors shape {vectors.shape} != ({len(chunks)}, {self.dimension})")

    def _write_rows(self, doc: IndexedDocument, chunks: list[Chunk], vectors: np.ndarray,
                    title_vector: np.ndarray | None) -> None:
        """Replace the rows of ``doc`` (inside the caller's transaction)."""
        self._delete_rows(doc.id)
        year = doc.published_date.year if doc.published_date else None
        self._db.execute(
            "INSERT INTO documents(id, url, source, title, title_key, publisher, published_date, year, language, "
            "doc_type, content_hash, indexed_at, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, doc.url, doc.source, doc.title, title_key(doc.title or ""), doc.publisher,
             doc.published_date.isoformat() if doc.published_date else None, year, doc.language,
             doc.doc_type, doc.content_hash, doc.indexed_at.isoformat(), doc.model_dump_json()),
        )
        self._db.executemany(
            "INSERT INTO labels(doc_id, kind, label_id, score) VALUES (?,?,?,?)",
            [(doc.id, "theme", l.id, l.score) for l in doc.themes]
            + [(doc.id, "policy_area", l.id, l.score) for l in doc.policy_areas],
        )
        if title_vector is not None and doc.title:
            self._db.execute("INSERT INTO chunks(doc_id, ordinal, page, text, vector) VALUES (?,?,?,?,?)",
                             (doc.id, -1, None, doc.title, np.asarray(title_vector, np.float32).tobytes()))
        for chunk, vector in zip(chunks, vectors):
            cur = self._db.execute(
                "INSERT INTO chunks(doc_id, ordinal, page, text, vector) VALUES (?,?,?,?,?)",
                (doc.id, chunk.ordinal, chunk.page, chunk.text, np.asarray(vector, np.float32).tobytes()))
            self._db.execute("INSERT INTO chunks_fts(rowid, title, body) VALUES (?,?,?)",
                             (cur.lastrowid, (doc.title or "") if chunk.ordinal == 0 else "", chunk.text))

    def delete(self, doc_id: str) -> bool:
        """Delete a document and its chunks; True when it existed."""
        with self._lock, self._transaction():
            existed = self._delete_rows(doc_id)
            self._bump_generation()
        return existed

    def _delete_rows(self, doc_id: str) -> bool:
        ids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
        self._db.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(i,) for i in ids])
        self._db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        self._db.execute("DELETE FROM labels WHERE doc_id=?", (doc_id,))
        return self._db.execute("DELETE FROM documents WHERE id=?", (doc_id,)).rowcount > 0

    def _bump_generation(self) -> None:
        current = int(self._meta("generation") or 0)
        self._set_meta("generation", str(current + 1))

    # -- reads ------------------------------------------------------------------------------
    def get(self, doc_id: str) -> IndexedDocument | None:
        """The stored document or None."""
        row = self._db.execute("SELECT data FROM documents WHERE id=?", (doc_id,)).fetchone()
        return IndexedDocument.model_validate_json(row[0]) if row else None

    def content_hash_of(self, doc_id: str) -> str | None:
        """The content hash stored for ``doc_id`` (None when absent)."""
        row = self._db.execute("SELECT content_hash FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        """Number of documents."""
        return self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    def chunk_count(self) -> int:
        """Number of text chunks (title vectors not counted)."""
        return self._db.execute("SELECT COUNT(*) FROM chunks WHERE ordinal >= 0").fetchone()[0]

    def stats(self) -> dict:
        """Counts and storage: ``{"documents": int, "chunks": int, "path": str, "bytes": int}``."""
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"documents": self.count(), "chunks": self.chunk_count(), "path": str(self.path), "bytes": size}

    def ids(self) -> list[str]:
        """All document ids, sorted."""
        return [r[0] for r in self._db.execute("SELECT id FROM documents ORDER BY id")]

    def chunks_of(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks (ordinal >= 0) and their vectors, for reclassification."""
        rows = self._db.execute("SELECT ordinal, page, text, vector FROM chunks WHERE doc_id=? AND ordinal>=0 "
                                "ORDER BY ordinal", (doc_id,)).fetchall()
        chunks = [Chunk(ordinal=o, page=p, text=t) for o, p, t, _ in rows]
        vectors = np.array([np.frombuffer(v, dtype=np.float32) for *_, v in rows]).reshape(len(rows), self.dimension)
        return chunks, vectors

    def _filter_sql(self, filters: SearchFilters) -> tuple[str, list]:
        clauses, args = [], []
        if filters.theme:
            clauses.append("EXISTS (SELECT 1 FROM labels l WHERE l.doc_id=d.id AND l.kind='theme' AND l.label_id=?)")
            args.append(filters.theme)
        if filters.policy_area:
            clauses.append("EXISTS (SELECT 1 FROM labels l WHERE l.doc_id=d.id AND l.kind='policy_area' "
                           "AND l.label_id=?)")
            args.append(filters.policy_area)
        for field in ("publisher", "doc_type", "language"):
            value = getattr(filters, field)
            if value:
                clauses.append(f"d.{field} = ? COLLATE NOCASE")
                args.append(value)
        if filters.year_from is not None:
            clauses.append("d.year >= ?")
            args.append(filters.year_from)
        if filters.year_to is not None:
            clauses.append("d.year <= ?")
            args.append(filters.year_to)
        return " AND ".join(clauses), args

    def _allowed_ids(self, filters: SearchFilters) -> set[str] | None:
        where, args = self._filter_sql(filters)
        if not where:
            return None
        return {r[0] for r in self._db.execute(f"SELECT d.id FROM documents d WHERE {where}", args)}

    def _bm25(self, query: SearchQuery, allowed: set[str] | None) -> list[tuple[str, float, int | None, str]]:
        fts = to_fts5_query(query.text)
        if fts is None:
            return []
        where, args = self._filter_sql(query.filters)
        sql = (f"SELECT c.doc_id, bm25(chunks_fts, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS rank, c.page, "
               "snippet(chunks_fts, 1, '<mark>', '</mark>', ' … ', 32) "
               "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
               "WHERE chunks_fts MATCH ?")
        params: list = [fts]
        if where:
            sql += f" AND c.doc_id IN (SELECT d.id FROM documents d WHERE {where})"
            params += args
        sql += " ORDER BY rank LIMIT ?"
        params.append(CANDIDATES * 10)
        try:
            rows = self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise ValueError(f"cannot parse query {query.text!r}: {exc}") from None
        best: dict[str, tuple[str, float, int | None, str]] = {}
        for doc_id, rank, page, snippet in rows:
            if doc_id not in best:
                best[doc_id] = (doc_id, -float(rank), page, snippet)
        return list(best.values())[:CANDIDATES]

    def _matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        generation = self._meta("generation") or "0"
        cache = self._matrix_cache
        if cache is None or cache[0] != generation:
            rows = self._db.execute("SELECT id, doc_id, vector FROM chunks").fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            doc_ids = np.array([r[1] for r in rows], dtype=object)
            matrix = (np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), self.dimension)
                      if rows else np.zeros((0, self.dimension), np.float32))
            cache = (generation, ids, doc_ids, matrix)
            self._matrix_cache = cache
        return cache[1], cache[2], cache[3]

    def _semantic(self, vector: np.ndarray, allowed: set[str] | None) -> list[tuple[str, float, int]]:
        ids, doc_ids, matrix = self._matrix()
        if len(ids) == 0:
            return []
        sims = matrix @ np.asarray(vector, np.float32)
        if allowed is not None:
            mask = np.fromiter((d in allowed for d in doc_ids), dtype=bool, count=len(doc_ids))
            sims = np.where(mask, sims, -np.inf)
        order = np.argsort(-sims)[: CANDIDATES * 20]
        best: dict[str, tuple[str, float, int]] = {}
        for i in order:
            if not np.isfinite(sims[i]):
                break
            doc_id = doc_ids[i]
            if doc_id not in best:
                best[doc_id] = (doc_id, float(sims[i]), int(ids[i]))
            if len(best) >= CANDIDATES:
                break
        return list(best.values())

    def search(self, query: SearchQuery, query_vector: np.ndarray | None = None) -> SearchResponse:
        """Run a search. ``query_vector`` (unit length, shape (dim,)) is needed for semantic and
        hybrid modes. Raises ValueError for an unparseable query or a missing vector."""
        allowed = self._allowed_ids(query.filters)
        terms = query_terms(query.text)
        bm25 = self._bm25(query, allowed) if query.mode in ("bm25", "hybrid") else []
        semantic = []
        if query.mode in ("semantic", "hybrid"):
            if query_vector is None:
                raise ValueError(f"mode {query.mode} needs a query vector")
            semantic = self._semantic(query_vector, allowed)
        ranked = fuse(query.mode, [(d, s) for d, s, *_ in bm25], [(d, s) for d, s, *_ in semantic])
        if query.mode != "semantic":
            ranked = exact_title_first(ranked, self._exact_title_ids(query))
        page_of_bm25 = {d: (p, snip) for d, _, p, snip in bm25}
        chunk_of_semantic = {d: cid for d, _, cid in semantic}
        window = ranked[query.offset: query.offset + query.limit]
        hits = [self._hit(doc_id, score, page_of_bm25.get(doc_id), chunk_of_semantic.get(doc_id), terms)
                for doc_id, score in window]
        return SearchResponse(query=query, total=len(ranked), hits=[h for h in hits if h is not None])

    def _exact_title_ids(self, query: SearchQuery) -> set[str]:
        """Ids of documents (within the filters) whose whole title equals the query."""
        key = title_key(query.text)
        if not key:
            return set()
        where, args = self._filter_sql(query.filters)
        sql = "SELECT d.id FROM documents d WHERE d.title_key = ?" + (f" AND {where}" if where else "")
        return {r[0] for r in self._db.execute(sql, [key, *args])}

    def _hit(self, doc_id: str, score: float, bm25_hit, chunk_id, terms) -> SearchHit | None:
        doc = self.get(doc_id)
        if doc is None:
            return None
        page, snippet = bm25_hit if bm25_hit else (None, "")
        if not snippet and chunk_id is not None:
            row = self._db.execute("SELECT ordinal, page, text FROM chunks WHERE id=?", (chunk_id,)).fetchone()
            if row and row[0] < 0:  # the title vector matched: show the document's opening
                row = self._db.execute("SELECT ordinal, page, text FROM chunks WHERE doc_id=? AND ordinal=0",
                                       (doc_id,)).fetchone()
            if row:
                page, snippet = row[1], highlight(row[2], terms)
        refs = lambda labels: [LabelRef(**label.model_dump()) for label in labels]  # noqa: E731
        return SearchHit(
            id=doc.id, url=doc.url, title=doc.title, score=round(score, 6), publisher=doc.publisher,
            published_date=doc.published_date, doc_type=doc.doc_type, language=doc.language, page=page,
            snippet=snippet, themes=refs(doc.themes), policy_areas=refs(doc.policy_areas),
        )
