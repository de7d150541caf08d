"""The embedded index backend: one SQLite file (WAL, ACID), FTS5 BM25 over chunks with a title
field weighted above the body, exact kNN over chunk embeddings (numpy), hybrid by
``index.query.fuse`` (the ``search.hybrid`` settings), filters and snippets. One writer, many
concurrent readers.

Layout: ``documents`` (one row per document, its JSON), ``labels`` (theme, policy area and
evidence type ids, for filters and facets), ``chunks`` (text, page and float32 vector; ordinal -1
holds the title vector), ``chunks_fts`` (FTS5: the title on the first chunk only, so a title
counts once per document).

Searching: every write bumps a generation number; each process keeps an in-memory snapshot of the
current generation (:class:`_Snapshot`: the chunk vectors, the chunk -> document map, each
document's filter and facet fields), rebuilt on the first search after a write. BM25 is one FTS5
pass returning ``(rowid, bm25)`` of the matching chunks; the best chunk per document, filters,
facets and the ordering are numpy work on the snapshot; FTS5 snippets are built only for the
hits of the returned page. Each search runs in one read transaction, so the snapshot and the SQL
reads always agree. Result sets, facets, date sort and cursors follow :mod:`index.query`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from datetime import date
from pathlib import Path

import numpy as np

from config.settings import HybridSettings
from core.models import Chunk, IndexedDocument
from index.backend import EmbeddingModelId, IndexMismatch, check_embedding_model, warn_adopted
from index.query import (
    CANDIDATES, CASELESS_FIELDS, QueryTerm, SearchFilters, SearchHit, SearchQuery, SearchResponse, caseless_key,
    check_query_vector, clause_groups, decode_cursor, exact_title_first, facet_values, feedback_vector, fts5_clause,
    fuse, highlight, is_constrained,
    matching_documents, paginate, prefix_range, prefix_terms, query_terms, retrieval_depth, scoring_fts5_query,
    similar_text, sort_by_date, title_key, vocabulary_words, PREFIX_WORDS_LIMIT,
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
CREATE TABLE IF NOT EXISTS words (word TEXT PRIMARY KEY) WITHOUT ROWID;
"""
# ``words``: every folded word ever indexed (index.query.vocabulary_words), unstemmed, so a
# ``prefix*`` can add the words that begin with it (index.query.fts5_clause). Words of deleted
# documents stay: an alternative that matches nothing costs nothing.

TITLE_WEIGHT = 4.0
BODY_WEIGHT = 1.0
LABEL_KINDS = ("theme", "policy_area", "evidence_type")  # labels.kind values (filter and facet names)


def recorded_model(path: Path) -> EmbeddingModelId | None:
    """The embedding model the index at ``path`` records, read without opening it for writing (no
    schema created, nothing adopted); None when there is no index there, it records none (written
    before models were recorded) or it cannot be read (opening it reports that)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
    except sqlite3.Error:  # no meta table yet, or not an SQLite file
        return None
    return EmbeddingModelId.from_json(row[0] if row else None)


class EmbeddedIndex:
    """SQLite-backed search index at ``path``; ``dimension`` is the embedding size; ``hybrid``
    (``config.settings.HybridSettings``; its defaults when None) is how hybrid search fuses BM25
    and semantic rankings. ``embedding_model`` (when given) is the model whose vectors the caller
    writes and searches with: a new index records it, an existing one must hold that model's
    vectors. Raises :class:`index.backend.IndexMismatch` when the index holds vectors of another
    dimension or model."""

    def __init__(self, path: Path, dimension: int, hybrid: HybridSettings | None = None,
                 embedding_model: EmbeddingModelId | None = None):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.dimension = dimension
        self.hybrid = hybrid or HybridSettings()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        try:
            self._check_vectors(dimension, embedding_model)
        except IndexMismatch:
            self._db.close()
            raise
        if self._meta("words") is None:
            self._build_words()
        self._snapshot_cache: _Snapshot | None = None

    def _build_words(self) -> None:
        """Fill the ``words`` table from the stored titles and chunk texts (an index written before
        the table existed; once, at open)."""
        with self._lock, self._transaction():
            if self._meta("words") is not None:  # another process filled it while this one waited
                return
            for query in ("SELECT title FROM documents", "SELECT text FROM chunks"):
                cursor = self._db.execute(query)
                while rows := cursor.fetchmany(2000):
                    self._db.executemany("INSERT OR IGNORE INTO words(word) VALUES (?)",
                                         [(w,) for w in vocabulary_words(r[0] for r in rows)])
            self._set_meta("words", "1")

    def _check_vectors(self, dimension: int, embedding_model: EmbeddingModelId | None) -> None:
        """Record the dimension and model of a new index; raise IndexMismatch when an existing one
        holds vectors of another dimension or model (an index written before models were recorded
        adopts ``embedding_model``)."""
        stored = self._meta("dimension")
        if stored is None:
            self._set_meta("dimension", str(dimension))
        elif int(stored) != dimension:
            raise IndexMismatch(f"{self.path} holds {stored}-dimensional embeddings but the model gives {dimension}; "
                                "re-index with the original model or use a new index path")
        raw = self._meta("embedding_model")
        if check_embedding_model(EmbeddingModelId.from_json(raw), embedding_model, str(self.path)):
            has_vectors = self._db.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None
            warn_adopted(str(self.path), embedding_model, raw, has_vectors)
            self._set_meta("embedding_model", json.dumps(embedding_model.as_dict()))

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
            + [(doc.id, "policy_area", l.id, l.score) for l in doc.policy_areas]
            + [(doc.id, "evidence_type", l.id, l.score) for l in doc.evidence_types],
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
        self._db.executemany("INSERT OR IGNORE INTO words(word) VALUES (?)",
                             [(w,) for w in vocabulary_words([doc.title, *(c.text for c in chunks)])])

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

    # -- the in-memory snapshot --------------------------------------------------------------
    def _snapshot(self) -> "_Snapshot":
        """The in-memory view of the current generation (rebuilt after any write, by any
        process). Call inside :meth:`_reading`, so that it and the SQL reads agree."""
        generation = self._meta("generation") or "0"
        cache = self._snapshot_cache
        if cache is None or cache.generation != generation:
            cache = _Snapshot.load(self._db, generation, self.dimension)
            self._snapshot_cache = cache
        return cache

    def _reading(self):
        """A context for one search: the lock (no write of this object interleaves) and one read
        transaction (every statement, and the snapshot, see the same committed state)."""
        index = self

        class _Read:
            def __enter__(self_inner):
                index._lock.acquire()
                try:
                    index._db.execute("BEGIN")
                except BaseException:
                    index._lock.release()
                    raise

            def __exit__(self_inner, *exc):
                try:
                    index._db.execute("COMMIT")
                finally:
                    index._lock.release()
                return False

        return _Read()

    # -- retrieval ---------------------------------------------------------------------------
    def _bm25(self, snap: "_Snapshot", query: SearchQuery, allowed: np.ndarray | None, first: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The BM25 ranking of EVERY document matching the text (within ``allowed``): document
        positions, scores (-bm25, higher is better) and best chunk ids, ordered by score then id,
        documents of ``first`` (a boolean mask) before the others.

        SQLite scores the matching chunks (title weighted ``TITLE_WEIGHT``, body ``BODY_WEIGHT``);
        the best chunk per document and the order are found in numpy through the snapshot's
        chunk -> document map, so no chunk row is read and no snippet is built here (only the
        page's hits get one, :meth:`_snippets`). Raises ValueError for an unparseable query."""
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64))
        words = self._prefix_words(query.text)
        fts = scoring_fts5_query(query.text, words)
        if fts is None:
            return empty
        if is_constrained(query.text):  # AND / NOT hold per document, not per chunk
            matched = matching_documents(clause_groups(query.text),
                                         lambda term: self._documents_with(snap, term, words))
            within = np.zeros(len(snap.names), bool)
            within[[snap.doc_pos[d] for d in matched]] = True
            allowed = within if allowed is None else allowed & within
        try:
            rows = self._db.execute(f"SELECT rowid, bm25(chunks_fts, {TITLE_WEIGHT}, {BODY_WEIGHT}) FROM chunks_fts "
                                    "WHERE chunks_fts MATCH ?", (fts,)).fetchall()
        except sqlite3.OperationalError as exc:
            raise ValueError(f"cannot parse query {query.text!r}: {exc}") from None
        if not rows:
            return empty
        chunk_ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        scores = -np.fromiter((r[1] for r in rows), np.float64, len(rows))
        docs = snap.docs_of_chunks(chunk_ids)
        known = docs >= 0
        chunk_ids, scores, docs = chunk_ids[known], scores[known], docs[known]
        order = np.lexsort((chunk_ids, -scores, docs))  # by document, its best chunk first
        docs, scores, chunk_ids = docs[order], scores[order], chunk_ids[order]
        head = np.ones(len(docs), bool)
        head[1:] = docs[1:] != docs[:-1]
        docs, scores, chunk_ids = docs[head], scores[head], chunk_ids[head]
        if allowed is not None:
            keep = allowed[docs]
            docs, scores, chunk_ids = docs[keep], scores[keep], chunk_ids[keep]
        later = ~first[docs] if first is not None else np.zeros(len(docs), bool)
        order = np.lexsort((docs, -scores, later))  # positions follow ids: ties go by id
        return docs[order], scores[order], chunk_ids[order]

    def _prefix_words(self, text: str) -> dict[str, list[str]]:
        """``prefix -> indexed words beginning with it`` (at most :data:`PREFIX_WORDS_LIMIT`,
        shortest first) for each ``prefix*`` of the query (:func:`index.query.fts5_clause`)."""
        found: dict[str, list[str]] = {}
        for word in prefix_terms(text):
            bounds = prefix_range(word)
            if bounds is not None:
                rows = self._db.execute("SELECT word FROM words WHERE word >= ? AND word < ? "
                                        "ORDER BY length(word), word LIMIT ?", (*bounds, PREFIX_WORDS_LIMIT))
                found[word] = [r[0] for r in rows]
        return found

    def _documents_with(self, snap: "_Snapshot", term: QueryTerm,
                        prefix_words: dict[str, list[str]] | None = None) -> set[str]:
        """Ids of the documents with a chunk (or title) matching one clause (``prefix_words`` as
        in :func:`index.query.fts5_clause`). Raises ValueError when SQLite cannot parse it."""
        try:
            rows = self._db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?",
                                    (fts5_clause(term, prefix_words),)).fetchall()
        except sqlite3.OperationalError as exc:
            raise ValueError(f"cannot parse query clause {' '.join(term.words)!r}: {exc}") from None
        docs = snap.docs_of_chunks(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        return {snap.names[d] for d in docs[docs >= 0].tolist()}

    def _snippets(self, text: str, chunk_ids: list[int]) -> dict[int, tuple[int | None, str]]:
        """``chunk id -> (page, FTS5 <mark> snippet)`` for the query ``text``, for the chunks of
        one page of hits."""
        fts = scoring_fts5_query(text, self._prefix_words(text))
        if fts is None or not chunk_ids:
            return {}
        sql = ("SELECT c.page, snippet(chunks_fts, 1, '<mark>', '</mark>', ' … ', 32) FROM chunks_fts "
               "JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ? AND chunks_fts.rowid = ?")
        out = {}
        for chunk_id in chunk_ids:
            row = self._db.execute(sql, (fts, chunk_id)).fetchone()
            if row:
                out[chunk_id] = (row[0], row[1])
        return out

    def _semantic(self, snap: "_Snapshot", vector: np.ndarray, allowed: np.ndarray | None,
                  exclude: str | None = None) -> tuple[list[tuple[str, float]], np.ndarray]:
        """The semantic candidates: ``[(doc_id, cosine of its best chunk)]``, the
        :data:`CANDIDATES` documents (within ``allowed``, without ``exclude``) whose best chunk
        (title vector included) is nearest to ``vector``, best first, ties by id (exact kNN);
        and every chunk's cosine (for :meth:`_Snapshot.best_chunk` of the page's hits)."""
        if len(snap.chunk_ids) == 0:
            return [], np.zeros(0, np.float32)
        sims = snap.matrix @ np.asarray(vector, np.float32)
        best = np.full(len(snap.names), -np.inf, np.float32)
        best[snap.with_chunks] = np.maximum.reduceat(sims, snap.starts)  # each document's best chunk
        if allowed is not None:
            best[~allowed] = -np.inf
        if exclude is not None and exclude in snap.doc_pos:
            best[snap.doc_pos[exclude]] = -np.inf
        k = min(CANDIDATES, len(best))
        top = np.argpartition(-best, k - 1)[:k] if k < len(best) else np.arange(len(best))
        top = top[np.isfinite(best[top])]
        top = top[np.lexsort((top, -best[top]))]
        return [(snap.names[i], float(best[i])) for i in top.tolist()], sims

    # -- search ------------------------------------------------------------------------------
    def _check_vector(self, mode: str, vector: np.ndarray | None) -> None:
        check_query_vector(mode, vector, self.dimension)

    def search(self, query: SearchQuery, query_vector: np.ndarray | None = None) -> SearchResponse:
        """Run a search (see :mod:`index.query` for the result set of each mode).

        ``query_vector`` (unit length, shape (dimension,)) is needed for semantic and hybrid
        modes. Returns the page's hits (snippets built for those hits only), ``total`` (documents
        in the result set), the facets asked for and the next page's cursor. Raises ValueError
        for an unparseable query, a missing or mis-shaped vector, or a cursor of another query."""
        position, last_id = decode_cursor(query)
        if query.mode != "bm25":
            self._check_vector(query.mode, query_vector)
        with self._reading():
            snap = self._snapshot()
            allowed = snap.mask(query.filters)
            exact = self._exact_title_ids(snap, query, allowed) if query.mode != "semantic" else set()
            bm25: dict[str, tuple[float, int]] = {}
            semantic: list[tuple[str, float]] = []
            sims = None
            if query.mode == "bm25":
                first = np.zeros(len(snap.names), bool)
                first[[snap.doc_pos[d] for d in exact]] = True
                docs, scores, chunks = self._bm25(snap, query, allowed, first)
                # the relevance order of exact_title_first: matching exact-title documents (by
                # score), the other exact-title ones (by id, with the top score), then the rest
                leading = int(first[docs].sum())
                others = np.array(sorted(snap.doc_pos[d] for d in exact if d not in set(snap.names[docs[:leading]])),
                                  np.int64)
                top_score = float(scores.max()) if len(scores) else 0.0
                docs = np.concatenate([docs[:leading], others, docs[leading:]])
                scores = np.concatenate([scores[:leading], np.full(len(others), top_score), scores[leading:]])
                chunks = np.concatenate([chunks[:leading], np.full(len(others), -1, np.int64), chunks[leading:]])
                members = np.zeros(len(snap.names), bool)
                members[docs] = True
                total = len(docs)
                if query.sort == "date":  # the whole result set by date, ties in relevance order (stable)
                    order = np.lexsort((np.arange(len(docs)), -snap.day[docs], snap.day[docs] < 0))
                    docs, scores, chunks = docs[order], scores[order], chunks[order]
                depth = retrieval_depth(query, position)
                ranked = [(snap.names[d], s) for d, s in zip(docs[:depth].tolist(), scores[:depth].tolist())]
                bm25 = {snap.names[d]: (s, c) for d, s, c in
                        zip(docs[:depth].tolist(), scores[:depth].tolist(), chunks[:depth].tolist()) if c >= 0}
            else:
                ranking: list[tuple[str, float]] = []
                if query.mode == "hybrid":
                    docs, scores, chunks = self._bm25(snap, query, allowed, None)
                    top = [(snap.names[d], float(s), int(c)) for d, s, c in
                           zip(docs[:CANDIDATES].tolist(), scores[:CANDIDATES].tolist(), chunks[:CANDIDATES].tolist())]
                    bm25 = {d: (s, c) for d, s, c in top}
                    ranking = [(d, s) for d, s, _ in top]
                within = allowed
                if query.mode == "hybrid" and is_constrained(query.text):  # only documents the text matches
                    within = np.zeros(len(snap.names), bool)
                    within[docs[:CANDIDATES]] = True
                vector = query_vector
                if query.mode == "hybrid" and self.hybrid.feedback_docs:  # BM25 feeds back into the vector
                    rows = snap.chunk_rows([c for _, _, c in top[:self.hybrid.feedback_docs]])
                    vector = feedback_vector(query_vector, snap.matrix[rows], self.hybrid.feedback_weight)
                semantic, sims = self._semantic(snap, vector, within)
                ranked = fuse(query.mode, ranking, semantic, self.hybrid)
                if query.mode == "hybrid":
                    ranked = exact_title_first(ranked, exact)
                members = np.zeros(len(snap.names), bool)
                members[[snap.doc_pos[d] for d, _ in ranked]] = True
                total = len(ranked)
            if query.sort == "date" and query.mode != "bm25":
                ranked = sort_by_date(ranked, snap.dates([d for d, _ in ranked]))
            window, next_cursor = paginate(query, ranked, position, last_id)
            facets = {name: facet_values(snap.facet_counts(name, members), query.facet_size, fold_case=name in CASELESS_FIELDS)
                      for name in query.facets}
            snippets = self._snippets(query.text, [bm25[d][1] for d, _ in window if d in bm25])
            terms = query_terms(query.text)
            hits = []
            for doc_id, score in window:
                page, snippet = snippets.get(bm25[doc_id][1], (None, "")) if doc_id in bm25 else (None, "")
                chunk_id = snap.best_chunk(doc_id, sims) if sims is not None and not snippet else None
                hit = self._hit(doc_id, score, page, snippet, chunk_id, terms)
                if hit is not None:
                    hits.append(hit)
        return SearchResponse(query=query, total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def similar(self, doc_id: str, limit: int = 10, filters: SearchFilters | None = None) -> SearchResponse:
        """More like this: the documents nearest to ``doc_id``'s mean chunk vector (its title
        vector when it has no chunks), without ``doc_id`` itself, best first: at most ``limit``
        (1..1000) hits of the :data:`CANDIDATES` semantic candidates within ``filters``. Hit
        scores are cosines of each document's best chunk to that vector; snippets show that chunk.
        ``total`` counts the candidates. The response's ``query`` records the document's title
        as text, mode ``semantic``, the filters and the limit.

        Raises KeyError when ``doc_id`` is not in the index, ValueError when it has no vector
        or ``limit`` is out of range."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit {limit} is out of range 1..1000")
        filters = filters or SearchFilters()
        with self._reading():
            doc = self.get(doc_id)
            if doc is None:
                raise KeyError(f"no document {doc_id!r} in the index")
            vector = self._document_vector(doc_id)
            snap = self._snapshot()
            semantic, sims = self._semantic(snap, vector, snap.mask(filters), exclude=doc_id)
            hits = [self._hit(d, s, None, "", snap.best_chunk(d, sims), []) for d, s in semantic[:limit]]
        query = SearchQuery(text=similar_text(doc.title, doc_id), mode="semantic", filters=filters, limit=limit)
        return SearchResponse(query=query, total=len(semantic), hits=[h for h in hits if h is not None])

    def _document_vector(self, doc_id: str) -> np.ndarray:
        """The unit mean of a document's chunk vectors, or its title vector when it has no chunks.
        Raises ValueError when it has neither."""
        rows = self._db.execute("SELECT ordinal, vector FROM chunks WHERE doc_id=?", (doc_id,)).fetchall()
        vectors = ([np.frombuffer(v, np.float32) for o, v in rows if o >= 0]
                   or [np.frombuffer(v, np.float32) for o, v in rows if o < 0])
        mean = np.mean(vectors, axis=0) if vectors else np.zeros(self.dimension, np.float32)
        norm = float(np.linalg.norm(mean))
        if not norm > 0:
            raise ValueError(f"document {doc_id!r} has no vectors to compare")
        return (mean / norm).astype(np.float32)

    def _exact_title_ids(self, snap: "_Snapshot", query: SearchQuery, allowed: np.ndarray | None) -> set[str]:
        """Ids of documents (within the filters) whose whole title equals the query; none for a
        query with AND / NOT, whose operators decide what it finds."""
        key = title_key(query.text)
        if not key or is_constrained(query.text):
            return set()
        found = {r[0] for r in self._db.execute("SELECT id FROM documents WHERE title_key = ?", (key,))}
        return {d for d in found if d in snap.doc_pos and (allowed is None or allowed[snap.doc_pos[d]])}

    def _hit(self, doc_id: str, score: float, page: int | None, snippet: str, chunk_id: int | None,
             terms: list[str]) -> SearchHit | None:
        """The hit of ``doc_id`` (None when it was deleted meanwhile). Without a BM25 snippet the
        snippet is a window of the semantic best chunk (the document's opening when the title
        vector matched, or when no chunk is known) with ``terms`` marked."""
        doc = self.get(doc_id)
        if doc is None:
            return None
        if not snippet:
            row = None
            if chunk_id is not None:
                row = self._db.execute("SELECT ordinal, page, text FROM chunks WHERE id=?", (chunk_id,)).fetchone()
            if row is None or row[0] < 0:  # the title vector matched, or no chunk: show the document's opening
                row = self._db.execute("SELECT ordinal, page, text FROM chunks WHERE doc_id=? AND ordinal>=0 "
                                       "ORDER BY ordinal LIMIT 1", (doc_id,)).fetchone()
            if row:
                page, snippet = row[1], highlight(row[2], terms)
        return SearchHit.from_document(doc, score, page, snippet)


_COLUMN_FACETS = ("publisher", "source", "doc_type", "language", "year")


class _Snapshot:
    """One generation of the index in memory, for ranking, filters and facets without reading
    document rows: every document (positions follow the ids' sort order), every chunk vector
    (grouped by document), the chunk -> document map of the FTS rows, and each document's
    filter/facet fields. Built by :meth:`load`; never changed after."""

    def __init__(self, generation: str, names: list[str], chunk_rows: list[tuple], documents: list[tuple],
                 labels: list[tuple], dimension: int):
        self.generation = generation
        self.names = np.array(names, dtype=object)
        self.doc_pos = {d: i for i, d in enumerate(names)}
        n_docs = len(names)
        # chunks, grouped by document (rows come ordered by doc_id, id)
        self.chunk_ids = np.array([r[0] for r in chunk_rows], dtype=np.int64)
        self.matrix = (np.frombuffer(b"".join(r[2] for r in chunk_rows), dtype=np.float32).reshape(-1, dimension)
                       if chunk_rows else np.zeros((0, dimension), np.float32))
        chunk_docs = np.array([self.doc_pos.get(r[1], -1) for r in chunk_rows], dtype=np.int64)
        head = np.ones(len(chunk_docs), bool)
        head[1:] = chunk_docs[1:] != chunk_docs[:-1]
        self.starts = np.flatnonzero(head)
        self.with_chunks = chunk_docs[self.starts]
        self.span_start = np.full(n_docs, -1, np.int64)
        self.span_end = np.full(n_docs, -1, np.int64)
        ends = np.append(self.starts[1:], len(chunk_docs))
        valid = self.with_chunks >= 0
        self.span_start[self.with_chunks[valid]] = self.starts[valid]
        self.span_end[self.with_chunks[valid]] = ends[valid]
        order = np.argsort(self.chunk_ids, kind="stable")
        self.chunk_order = order
        self.sorted_chunk_ids = self.chunk_ids[order]
        self.sorted_chunk_docs = chunk_docs[order]
        # filter and facet fields (documents rows: id, source, publisher, year, language, doc_type, published_date)
        by_id = {row[0]: row for row in documents}
        self.year = np.zeros(n_docs, np.int32)
        self.day = np.full(n_docs, -1, np.int64)
        self.columns: dict[str, tuple[np.ndarray, list[str]]] = {}
        raw = {name: [] for name in _COLUMN_FACETS}
        for name in names:
            _, source, publisher, year, language, doc_type, published = by_id[name]
            for field, value in (("source", source), ("publisher", publisher), ("language", language),
                                 ("doc_type", doc_type), ("year", None if year is None else str(year))):
                raw[field].append(value)
        for i, name in enumerate(names):
            row = by_id[name]
            if row[3] is not None:
                self.year[i] = row[3]
            if row[6]:
                self.day[i] = date.fromisoformat(row[6]).toordinal()
        for field, values in raw.items():
            distinct = sorted({v for v in values if v is not None})
            code = {v: i for i, v in enumerate(distinct)}
            self.columns[field] = (np.array([code.get(v, -1) if v is not None else -1 for v in values], np.int32),
                                   distinct)
        grouped: dict[str, dict[str, list[int]]] = {kind: {} for kind in LABEL_KINDS}
        for doc_id, kind, label_id in labels:
            if kind in grouped and doc_id in self.doc_pos:
                grouped[kind].setdefault(label_id, []).append(self.doc_pos[doc_id])
        self.labels = {kind: {label: np.array(pos, np.int64) for label, pos in found.items()}
                       for kind, found in grouped.items()}

    @classmethod
    def load(cls, db: sqlite3.Connection, generation: str, dimension: int) -> "_Snapshot":
        """Read generation ``generation`` from ``db`` (inside the caller's read transaction)."""
        documents = db.execute("SELECT id, source, publisher, year, language, doc_type, published_date "
                               "FROM documents ORDER BY id").fetchall()
        chunk_rows = db.execute("SELECT id, doc_id, vector FROM chunks ORDER BY doc_id, id").fetchall()
        labels = db.execute("SELECT doc_id, kind, label_id FROM labels").fetchall()
        return cls(generation, [row[0] for row in documents], chunk_rows, documents, labels, dimension)

    def chunk_rows(self, chunk_ids: list[int]) -> np.ndarray:
        """Rows of :attr:`matrix` holding the chunks ``chunk_ids`` (ids not here, such as -1, are
        left out), in the order given."""
        ids = np.asarray([c for c in chunk_ids if c is not None and c >= 0], np.int64)
        if not len(ids) or not len(self.sorted_chunk_ids):
            return np.zeros(0, np.int64)
        at = np.minimum(np.searchsorted(self.sorted_chunk_ids, ids), len(self.sorted_chunk_ids) - 1)
        found = self.sorted_chunk_ids[at] == ids
        return self.chunk_order[at[found]]

    def best_chunk(self, doc_id: str, sims: np.ndarray) -> int | None:
        """The id of ``doc_id``'s chunk with the highest of ``sims`` (one value per row of
        :attr:`matrix`); None when the document has no vector here."""
        pos = self.doc_pos.get(doc_id)
        if pos is None or self.span_start[pos] < 0 or len(sims) != len(self.chunk_ids):
            return None
        start, end = int(self.span_start[pos]), int(self.span_end[pos])
        return int(self.chunk_ids[start + int(np.argmax(sims[start:end]))])

    def docs_of_chunks(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The document position of each chunk id (-1 for an id this snapshot does not hold)."""
        if len(self.sorted_chunk_ids) == 0:
            return np.full(len(chunk_ids), -1, np.int64)
        where = np.searchsorted(self.sorted_chunk_ids, chunk_ids).clip(0, len(self.sorted_chunk_ids) - 1)
        return np.where(self.sorted_chunk_ids[where] == chunk_ids, self.sorted_chunk_docs[where], -1)

    def mask(self, filters: SearchFilters) -> np.ndarray | None:
        """Boolean mask over document positions of the documents within ``filters`` (None when
        there is no filter): label ids exactly, publisher/source/doc type/language ignoring case,
        years inclusive (documents without a date never match a year bound)."""
        out = None

        def narrow(part: np.ndarray) -> None:
            """AND the boolean mask ``part`` into the result."""
            nonlocal out
            out = part if out is None else out & part

        for kind in LABEL_KINDS:
            value = getattr(filters, kind)
            if value:
                part = np.zeros(len(self.names), bool)
                part[self.labels[kind].get(value, np.zeros(0, np.int64))] = True
                narrow(part)
        for field in CASELESS_FIELDS:
            value = getattr(filters, field)
            if value:
                codes, values = self.columns[field]
                wanted = [i for i, v in enumerate(values) if caseless_key(v) == caseless_key(value)]
                narrow(np.isin(codes, wanted))
        if filters.year_from is not None:
            narrow((self.year != 0) & (self.year >= filters.year_from))
        if filters.year_to is not None:
            narrow((self.year != 0) & (self.year <= filters.year_to))
        return out

    def facet_counts(self, name: str, members: np.ndarray) -> dict[str, int]:
        """``value -> number of documents`` of facet ``name`` over the documents of the boolean
        mask ``members`` (values no member has are left out)."""
        if name in LABEL_KINDS:
            counts = {label: int(members[pos].sum()) for label, pos in self.labels[name].items()}
            return {label: count for label, count in counts.items() if count}
        codes, values = self.columns[name]
        chosen = codes[members]
        tally = np.bincount(chosen[chosen >= 0], minlength=len(values))
        return {values[i]: int(tally[i]) for i in np.flatnonzero(tally)}

    def dates(self, doc_ids: list[str]) -> dict[str, date | None]:
        """The published date of each of ``doc_ids`` (None when it has none)."""
        out = {}
        for doc_id in doc_ids:
            day = int(self.day[self.doc_pos[doc_id]])
            out[doc_id] = date.fromordinal(day) if day >= 0 else None
        return out
