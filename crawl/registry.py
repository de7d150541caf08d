"""The document registry / crawl frontier: one row per canonical URL, in SQLite (WAL, ACID).

It remembers what each URL last gave (ETag, Last-Modified, content hash, document id) so a
re-crawl makes conditional requests and re-processes nothing unchanged, and what failed and why.
It also keeps discovery resources (sitemaps, feeds, listing pages) that came with validators, so
they are re-fetched conditionally too, and each origin's robots.txt answer (reused for 24 hours).
Several processes may share the file: SQLite serialises writers; each write is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.models import RunSummary, utcnow

SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
  url TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  doc_id TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  etag TEXT, last_modified TEXT, content_hash TEXT,
  stage TEXT, reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  first_seen TEXT NOT NULL, last_fetched TEXT, last_indexed TEXT
);
CREATE INDEX IF NOT EXISTS urls_source_state ON urls(source, state);
CREATE INDEX IF NOT EXISTS urls_hash ON urls(content_hash);
CREATE TABLE IF NOT EXISTS resources (
  url TEXT PRIMARY KEY, final_url TEXT NOT NULL, etag TEXT, last_modified TEXT,
  content_type TEXT, body BLOB NOT NULL, fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS robots (
  origin TEXT PRIMARY KEY, status INTEGER NOT NULL, body TEXT NOT NULL, fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, sources TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT, state TEXT NOT NULL, summary TEXT
);
"""

STATES = ("pending", "indexed", "failed", "skipped", "duplicate")


@dataclass(frozen=True)
class CachedResource:
    """A discovery resource (sitemap, feed, listing page) as last fetched, with its validators."""

    url: str
    final_url: str
    etag: str | None
    last_modified: str | None
    content_type: str | None
    body: bytes
    fetched_at: datetime


@dataclass(frozen=True)
class UrlRecord:
    """What the registry knows about one URL."""

    url: str
    source: str
    doc_id: str
    state: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    stage: str | None
    reason: str | None
    attempts: int


class Registry:
    """SQLite-backed registry at ``path`` (created with its folder when missing)."""

    def __init__(self, path: Path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _write(self, sql: str, args: tuple) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def enqueue(self, source: str, url: str, doc_id: str) -> None:
        """Add ``url`` to the frontier as pending unless it is already known."""
        self._write(
            "INSERT INTO urls(url, source, doc_id, first_seen) VALUES (?,?,?,?) ON CONFLICT(url) DO NOTHING",
            (url, source, doc_id, utcnow().isoformat()),
        )

    def set_doc_id(self, url: str, doc_id: str) -> None:
        """Point ``url`` at another document id (its page names a canonical URL)."""
        self._write("UPDATE urls SET doc_id=? WHERE url=?", (doc_id, url))

    def get(self, url: str) -> UrlRecord | None:
        """The record for ``url`` or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT url, source, doc_id, state, etag, last_modified, content_hash, stage, reason, attempts "
                "FROM urls WHERE url=?", (url,)).fetchone()
        return UrlRecord(*row) if row else None

    def mark_fetched(self, url: str, *, etag: str | None, last_modified: str | None) -> None:
        """Note a completed fetch and its validators (kept only once the document is indexed)."""
        self._write("UPDATE urls SET last_fetched=?, attempts=attempts+1 WHERE url=?",
                    (utcnow().isoformat(), url))

    def mark_indexed(self, url: str, *, content_hash: str, etag: str | None, last_modified: str | None) -> None:
        """The document at ``url`` is committed to the index with this content hash."""
        self._write(
            "UPDATE urls SET state='indexed', content_hash=?, etag=?, last_modified=?, stage=NULL, reason=NULL, "
            "last_indexed=? WHERE url=?",
            (content_hash, etag, last_modified, utcnow().isoformat(), url),
        )

    def mark_duplicate(self, url: str, *, content_hash: str, etag: str | None, last_modified: str | None,
                       reason: str) -> None:
        """``url`` serves the same bytes as an indexed URL; its validators are kept so the next
        crawl asks conditionally instead of downloading it again."""
        self._write(
            "UPDATE urls SET state='duplicate', content_hash=?, etag=?, last_modified=?, stage='dedupe', reason=? "
            "WHERE url=?", (content_hash, etag, last_modified, reason, url))

    def mark(self, url: str, state: str, *, stage: str | None = None, reason: str | None = None) -> None:
        """Set ``state`` (failed, skipped, duplicate, pending) with an optional stage and reason."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; expected one of {STATES}")
        self._write("UPDATE urls SET state=?, stage=?, reason=? WHERE url=?", (state, stage, reason, url))

    def indexed_with_hash(self, content_hash: str, *, other_than: str) -> UrlRecord | None:
        """An indexed URL other than ``other_than`` whose content has this hash (exact duplicate)."""
        with self._lock:
            row = self._db.execute(
                "SELECT url FROM urls WHERE content_hash=? AND state='indexed' AND url<>? LIMIT 1",
                (content_hash, other_than)).fetchone()
        return self.get(row[0]) if row else None

    def counts(self, source: str | None = None) -> dict[str, int]:
        """Number of URLs per state, for one source or all."""
        sql = "SELECT state, COUNT(*) FROM urls" + (" WHERE source=?" if source else "") + " GROUP BY state"
        with self._lock:
            rows = self._db.execute(sql, (source,) if source else ()).fetchall()
        return {state: 0 for state in STATES} | dict(rows)

    def failures(self, source: str | None = None) -> list[UrlRecord]:
        """Records in state failed, optionally for one source."""
        sql = ("SELECT url, source, doc_id, state, etag, last_modified, content_hash, stage, reason, attempts "
               "FROM urls WHERE state='failed'" + (" AND source=?" if source else "") + " ORDER BY url")
        with self._lock:
            return [UrlRecord(*r) for r in self._db.execute(sql, (source,) if source else ())]

    def cached_resource(self, url: str) -> CachedResource | None:
        """The last stored copy of a discovery resource (for a conditional re-fetch), or None."""
        with self._lock:
            row = self._db.execute("SELECT url, final_url, etag, last_modified, content_type, body, fetched_at "
                                   "FROM resources WHERE url=?", (url,)).fetchone()
        if row is None:
            return None
        return CachedResource(*row[:5], bytes(row[5]), datetime.fromisoformat(row[6]))

    def store_resource(self, url: str, *, final_url: str, etag: str | None, last_modified: str | None,
                       content_type: str | None, body: bytes) -> None:
        """Keep a discovery resource that came with validators, so the next run asks conditionally."""
        self._write("INSERT OR REPLACE INTO resources(url, final_url, etag, last_modified, content_type, body, "
                    "fetched_at) VALUES (?,?,?,?,?,?,?)",
                    (url, final_url, etag, last_modified, content_type, body, utcnow().isoformat()))

    def robots_get(self, origin: str) -> tuple[int, str, datetime] | None:
        """The stored robots.txt answer of ``origin`` (status, body, fetched at), or None."""
        with self._lock:
            row = self._db.execute("SELECT status, body, fetched_at FROM robots WHERE origin=?", (origin,)).fetchone()
        return (row[0], row[1], datetime.fromisoformat(row[2])) if row else None

    def robots_put(self, origin: str, status: int, body: str) -> None:
        """Store the robots.txt answer of ``origin``."""
        self._write("INSERT OR REPLACE INTO robots(origin, status, body, fetched_at) VALUES (?,?,?,?)",
                    (origin, status, body, utcnow().isoformat()))

    def start_run(self, run_id: str, sources: list[str]) -> None:
        """Record that a run started."""
        self._write("INSERT OR REPLACE INTO runs(run_id, sources, started_at, state) VALUES (?,?,?,?)",
                    (run_id, json.dumps(sources), utcnow().isoformat(), "running"))

    def finish_run(self, run_id: str, summary: RunSummary, state: str = "completed") -> None:
        """Record the end of a run with its summary."""
        self._write("UPDATE runs SET finished_at=?, state=?, summary=? WHERE run_id=?",
                    (utcnow().isoformat(), state, summary.model_dump_json(), run_id))
