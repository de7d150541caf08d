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
from datetime import date, datetime
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
CREATE TABLE IF NOT EXISTS source_runs (
  run_id TEXT NOT NULL, source TEXT NOT NULL, flow_run_id TEXT, started_at TEXT NOT NULL,
  finished_at TEXT, state TEXT NOT NULL, summary TEXT, PRIMARY KEY (run_id, source)
);
CREATE INDEX IF NOT EXISTS source_runs_by_source ON source_runs(source, started_at);
"""

# Columns added after the first release; added to older registry files on open.
LATER_COLUMNS = {"urls": (("first_indexed", "TEXT"), ("published", "TEXT"), ("page_hash", "TEXT"),
                         ("report_url", "TEXT"), ("report_etag", "TEXT"), ("report_last_modified", "TEXT"),
                         ("extracted_with", "TEXT"))}

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
    page_hash: str | None = None  # a fused landing page: its own bytes' hash (content_hash is its report's)
    report: ReportValidators | None = None  # a fused landing page: its report's URL and validators
    extracted_with: str | None = None  # extractors.base.extraction_fingerprint of its last extraction


@dataclass(frozen=True)
class ReportValidators:
    """The report (PDF) a fused landing page links, as last fetched: its URL and the HTTP validators
    it answered with (``ETag``, ``Last-Modified``; RFC 9110 section 8.8), so that a page answering
    304 Not Modified still lets a replaced report be seen by a conditional GET of its own."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class SourceRun:
    """One source's part of one ingestion run: when, how it ended, and its summary (a dict of
    :class:`~core.models.RunSummary` fields plus ``hosts``), or None while it is running."""

    run_id: str
    source: str
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    state: str
    summary: dict | None


@dataclass(frozen=True)
class Timing:
    """When one indexed document was first seen in its source, published, and first indexed."""

    url: str
    first_seen: datetime
    published: date | None
    first_indexed: datetime


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
        for table, columns in LATER_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

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

    def documents_at(self, url: str) -> list[str]:
        """The ids of the documents ``url`` belongs to, most likely first: its own row's document,
        then the landing pages whose report (PDF) it is (a fused report has no document of its own)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id FROM urls WHERE url=? UNION ALL "
                "SELECT doc_id FROM urls WHERE report_url=? AND state='indexed'", (url, url)).fetchall()
        return list(dict.fromkeys(row[0] for row in rows))

    def get(self, url: str) -> UrlRecord | None:
        """The record for ``url`` or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT url, source, doc_id, state, etag, last_modified, content_hash, stage, reason, attempts, "
                "page_hash, report_url, report_etag, report_last_modified, extracted_with FROM urls WHERE url=?",
                (url,)).fetchone()
        if not row:
            return None
        report = ReportValidators(*row[11:14]) if row[11] else None
        return UrlRecord(*row[:11], report=report, extracted_with=row[14])

    def mark_fetched(self, url: str, *, etag: str | None, last_modified: str | None) -> None:
        """Note a completed fetch and its validators (kept only once the document is indexed)."""
        self._write("UPDATE urls SET last_fetched=?, attempts=attempts+1 WHERE url=?",
                    (utcnow().isoformat(), url))

    def mark_indexed(self, url: str, *, content_hash: str, etag: str | None, last_modified: str | None,
                     published: date | None = None, page_hash: str | None = None,
                     report: ReportValidators | None = None, extracted_with: str | None = None) -> None:
        """The document at ``url`` is committed to the index with this content hash (``published``:
        its publication date when known, kept for freshness figures; ``page_hash`` and ``report``:
        for a landing page fused with its report, the page's own content hash, ``content_hash``
        being the report's, and the report's URL and validators; ``extracted_with``: the
        :func:`extractors.base.extraction_fingerprint` it was just extracted with (``""`` for a
        type no setting changes), None when it was not extracted now, which keeps the one recorded)."""
        now = utcnow().isoformat()
        report_fields = (report.url, report.etag, report.last_modified) if report else (None, None, None)
        self._write(
            "UPDATE urls SET state='indexed', content_hash=?, etag=?, last_modified=?, stage=NULL, reason=NULL, "
            "last_indexed=?, first_indexed=COALESCE(first_indexed, ?), published=COALESCE(?, published), "
            "page_hash=?, report_url=?, report_etag=?, report_last_modified=?, "
            "extracted_with=COALESCE(?, extracted_with) WHERE url=?",
            (content_hash, etag, last_modified, now, now, published.isoformat() if published else None,
             page_hash, *report_fields, extracted_with, url),
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

    def indexed_urls_of(self, doc_id: str, *, other_than: str) -> list[str]:
        """The indexed URLs other than ``other_than`` whose document is ``doc_id`` (URLs naming one
        canonical URL share its document)."""
        with self._lock:
            rows = self._db.execute("SELECT url FROM urls WHERE doc_id=? AND state='indexed' AND url<>? ORDER BY url",
                                    (doc_id, other_than)).fetchall()
        return [row[0] for row in rows]

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

    def start_source_run(self, run_id: str, source: str, flow_run_id: str | None = None) -> None:
        """Record that ``source``'s part of run ``run_id`` started (``flow_run_id``: Prefect's id)."""
        self._write("INSERT OR REPLACE INTO source_runs(run_id, source, flow_run_id, started_at, state) "
                    "VALUES (?,?,?,?,?)", (run_id, source, flow_run_id, utcnow().isoformat(), "running"))

    def finish_source_run(self, run_id: str, source: str, summary: RunSummary, state: str) -> None:
        """Record the end of ``source``'s part of a run: its state and summary (counts, failures, hosts)."""
        self._write("UPDATE source_runs SET finished_at=?, state=?, summary=? WHERE run_id=? AND source=?",
                    (utcnow().isoformat(), state, summary.model_dump_json(), run_id, source))

    def source_runs(self, source: str, limit: int = 20) -> list[SourceRun]:
        """``source``'s most recent runs, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, source, flow_run_id, started_at, finished_at, state, summary FROM source_runs "
                "WHERE source=? ORDER BY started_at DESC, rowid DESC LIMIT ?", (source, limit)).fetchall()
        return [SourceRun(r[0], r[1], r[2], datetime.fromisoformat(r[3]),
                          datetime.fromisoformat(r[4]) if r[4] else None, r[5],
                          json.loads(r[6]) if r[6] else None) for r in rows]

    def known_sources(self) -> list[str]:
        """Names of every source with URLs or runs in the registry, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT source FROM urls UNION SELECT source FROM source_runs").fetchall()
        return sorted(r[0] for r in rows)

    def timings(self, source: str) -> list[Timing]:
        """First seen, published and first indexed of each of ``source``'s indexed documents."""
        with self._lock:
            rows = self._db.execute(
                "SELECT url, first_seen, published, first_indexed FROM urls WHERE source=? AND state='indexed' "
                "AND first_indexed IS NOT NULL ORDER BY url", (source,)).fetchall()
        return [Timing(r[0], datetime.fromisoformat(r[1]), date.fromisoformat(r[2]) if r[2] else None,
                       datetime.fromisoformat(r[3])) for r in rows]

    def requeue_failed(self, source: str | None = None) -> dict[str, int]:
        """Put every failed URL (of ``source``, or of all sources) back to pending, forgetting its
        validators so the next run fetches it in full; returns how many per source."""
        where = "state='failed'" + (" AND source=?" if source else "")
        args = (source,) if source else ()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = dict(self._db.execute(f"SELECT source, COUNT(*) FROM urls WHERE {where} GROUP BY source",
                                               args).fetchall())
                self._db.execute(f"UPDATE urls SET state='pending', stage=NULL, reason=NULL, etag=NULL, "
                                 f"last_modified=NULL WHERE {where}", args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return counts

    def pending(self, source: str) -> list[str]:
        """URLs of ``source`` waiting in the frontier (new, interrupted or re-queued), sorted."""
        with self._lock:
            rows = self._db.execute("SELECT url FROM urls WHERE source=? AND state='pending' ORDER BY url",
                                    (source,)).fetchall()
        return [r[0] for r in rows]
