"""Saved searches and their Atom feeds.

A saved search is a name and the parameters of a search (those of ``GET /export``: ``q`` optional,
mode, sort, filters), kept in ``<home>/saved_searches.sqlite``. Its feed lists the documents that
match it now, most recently indexed first, so a feed reader shows each newly ingested matching
document once (entries are keyed by document id; ``updated`` is when it was indexed).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
import uuid
from datetime import datetime
from pathlib import Path

from feedgen.feed import FeedGenerator
from pydantic import BaseModel, Field, field_validator

from core.models import utcnow

FEED_SIZE = 50
SCHEMA = """CREATE TABLE IF NOT EXISTS saved_searches (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, params TEXT NOT NULL, created_at TEXT NOT NULL)"""


class _SavedSearchFields(BaseModel):
    """A saved search's name and its query-string parameters as ``GET /export`` takes them."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=200)
    params: dict[str, str | int] = Field(default_factory=dict, max_length=30,
                                         description='e.g. {"q": "pooled budget", "mode": "bm25", "policy_area": "P2"}')


class SavedSearchIn(_SavedSearchFields):
    """A search to save: a name (one line of text, trimmed) and query-string parameters as
    ``GET /export`` takes them (``q``, ``mode``, ``sort``, filters), validated when saved. Rows
    saved before a rule was added are read back as they are (:class:`SavedSearch`)."""

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name is blank")
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            raise ValueError("the name holds control characters, tabs or line breaks: give it as one line of text")
        return value.strip()


class SavedSearch(_SavedSearchFields):
    """A saved search with its id, creation time and feed path."""

    id: str
    created_at: datetime
    feed: str = Field(description="Path of its Atom feed")


class SavedSearches:
    """The saved searches of one data directory (SQLite, one short transaction per write)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @staticmethod
    def _row(row: tuple) -> SavedSearch:
        return SavedSearch(id=row[0], name=row[1], params=json.loads(row[2]),
                           created_at=datetime.fromisoformat(row[3]), feed=f"/saved-searches/{row[0]}/feed")

    def add(self, item: SavedSearchIn) -> SavedSearch:
        """Store a saved search and return it with its new id."""
        saved_id = uuid.uuid4().hex[:16]
        with self._lock:
            self._db.execute("INSERT INTO saved_searches VALUES (?,?,?,?)",
                             (saved_id, item.name, json.dumps(item.params), utcnow().isoformat()))
        return self.get(saved_id)

    def get(self, saved_id: str) -> SavedSearch | None:
        """A saved search by id, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM saved_searches WHERE id=?", (saved_id,)).fetchone()
        return self._row(row) if row else None

    def all(self) -> list[SavedSearch]:
        """Every saved search, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM saved_searches ORDER BY created_at, id").fetchall()
        return [self._row(r) for r in rows]

    def delete(self, saved_id: str) -> bool:
        """Remove a saved search; True when it existed."""
        with self._lock:
            return self._db.execute("DELETE FROM saved_searches WHERE id=?", (saved_id,)).rowcount > 0


# characters XML 1.0 cannot hold (https://www.w3.org/TR/xml/#charsets); lxml refuses them
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str | None) -> str | None:
    """``text`` without the characters XML 1.0 cannot hold (NUL and other C0 controls but tab and
    line breaks, lone surrogates, U+FFFE/U+FFFF), so that a feed of any stored title is well formed."""
    return None if text is None else _NOT_XML.sub("", text)


def atom_feed(saved: SavedSearch, documents: list, base_url: str) -> bytes:
    """The Atom feed of ``saved`` over ``documents`` (IndexedDocument, newest indexed first).
    Text fields pass through :func:`xml_safe` (documents indexed before titles were cleaned may
    hold control characters)."""
    feed = FeedGenerator()
    feed.id(f"{base_url}/saved-searches/{saved.id}")
    feed.title(xml_safe(f"Evidence Hub: {saved.name}"))
    feed.link(href=f"{base_url}/saved-searches/{saved.id}/feed", rel="self")
    feed.link(href=f"{base_url}/?{_query_string(saved.params)}", rel="alternate")
    feed.subtitle("Documents matching a saved search, most recently indexed first")
    feed.updated(max((d.indexed_at for d in documents), default=saved.created_at))
    for doc in reversed(documents):  # feedgen puts the last added entry first
        entry = feed.add_entry()
        entry.id(f"{base_url}/doc/{doc.id}")
        entry.title(xml_safe(doc.title or doc.url))
        entry.link(href=doc.url, rel="alternate")
        entry.link(href=f"{base_url}/doc/{doc.id}", rel="related")
        entry.updated(doc.indexed_at)
        if doc.published_date:
            entry.published(datetime(doc.published_date.year, doc.published_date.month, doc.published_date.day,
                                     tzinfo=doc.indexed_at.tzinfo))
        for author in doc.authors or ([doc.publisher] if doc.publisher else []):
            entry.author({"name": xml_safe(author) or "unknown"})
        labels = [l.label for l in doc.policy_areas + doc.themes]
        entry.summary(xml_safe(" · ".join(x for x in (doc.publisher, ", ".join(labels)) if x)) or None)
    return _entry_link_relations(feed.atom_str(pretty=True))


_ATOM = "{http://www.w3.org/2005/Atom}"


def _entry_link_relations(atom: bytes) -> bytes:
    """``atom`` with each entry's second link marked ``rel="related"``: feedgen 1.0.0 writes entry
    links without their ``rel`` (its writer reads the attribute back from the new element), so
    both links of an entry counted as ``alternate`` of one type, which RFC 4287 (4.1.1) forbids."""
    from lxml import etree

    root = etree.fromstring(atom)
    for entry in root.iter(f"{_ATOM}entry"):
        links = entry.findall(f"{_ATOM}link")
        if links:
            links[0].set("rel", "alternate")
        for link in links[1:]:
            link.set("rel", "related")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _query_string(params: dict) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in params.items()})
