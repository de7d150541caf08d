"""Typed records that flow through the pipeline: source -> fetch -> extract -> index.

Every stage takes and returns these; none of them does I/O.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import date, datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field, field_validator

DocType = Literal[
    "report", "evaluation", "guidance", "inspection", "policy_paper", "briefing",
    "blog_post", "news", "web_page", "transcript", "data", "other",
]


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(timezone.utc)


def document_id(canonical_url: str) -> str:
    """Stable document id: first 20 hex digits of SHA-256 of the canonical URL."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:20]


def content_hash(data: bytes) -> str:
    """SHA-256 hex digest of raw document bytes (the content hash used for change detection)."""
    return hashlib.sha256(data).hexdigest()


def one_line(value: str | None) -> str | None:
    """A metadata field (title, author, publisher) as one line of text in NFC: control characters
    (Unicode category Cc: NUL, escape sequences, DEL, C1 codes) dropped, line breaks, tabs and runs
    of spaces made one space, trimmed; None when nothing is left. Format characters (Cf: right-to-left
    marks, zero-width joiners) stay, as scripts need them. ``"A\x1b[31m\tB\n"`` -> ``"A[31m B"``."""
    if value is None:
        return None
    kept = "".join(" " if ch in "\t\n\r\x0b\x0c\x85" else ch for ch in value
                   if ch in "\t\n\r\x0b\x0c\x85" or unicodedata.category(ch) != "Cc")
    return unicodedata.normalize("NFC", " ".join(kept.split())) or None


class DiscoveredURL(BaseModel):
    """A URL found by discovery, with what the sitemap or feed said about it."""

    url: str
    lastmod: datetime | None = None
    title: str | None = None


class FetchResult(BaseModel):
    """The outcome of one fetch. ``not_modified`` means a 304 answer to a conditional GET."""

    url: str
    final_url: str
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


class FieldProvenance(BaseModel):
    """Where a metadata field came from (e.g. ``pdf_info``) and how sure we are (0..1)."""

    source: str
    confidence: float = Field(ge=0, le=1)


class Quality(BaseModel):
    """Text quality: a score in 0..1 and flags such as ``cid_glyphs`` or ``empty_text_layer``."""

    score: float = Field(1.0, ge=0, le=1)
    flags: list[str] = Field(default_factory=list)


class Page(BaseModel):
    """The text of one page (PDF) or of the whole document (HTML: one page, number 1)."""

    number: int
    text: str


class ExtractedDocument(BaseModel):
    """What extraction returns for one file: text (by page) and metadata with provenance."""

    mime: Literal["application/pdf", "text/html", "application/x-ndjson"]  # x-ndjson: a jsonl record
    pages: list[Page]
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    publisher: str | None = None
    published_date: date | None = None
    language: str | None = None
    canonical_url: str | None = None
    doi: str | None = None  # "10.<registrant>/<suffix>", no prefix
    doc_type: DocType = "other"
    page_count: int | None = None
    provenance: dict[str, FieldProvenance] = Field(default_factory=dict)
    quality: Quality = Quality()
    report_url: str | None = None  # a landing page's link to the report (PDF) it introduces

    @field_validator("title", "publisher")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return one_line(value)

    @field_validator("authors")
    @classmethod
    def _one_line_each(cls, value: list[str]) -> list[str]:
        return [name for name in (one_line(v) for v in value) if name]

    @property
    def text(self) -> str:
        """All pages joined by blank lines."""
        return "\n\n".join(page.text for page in self.pages if page.text)

    @property
    def word_count(self) -> int:
        """Whitespace-separated words over all pages."""
        return sum(len(page.text.split()) for page in self.pages)


class Chunk(BaseModel):
    """A passage of a document, the unit of embedding and retrieval."""

    ordinal: int
    text: str
    page: int | None = None


class LabelScore(BaseModel):
    """A taxonomy label on a document: its score (0..1), the evidence and review state."""

    id: str
    label: str
    score: float
    uncertain: bool = False
    terms: list[str] = Field(default_factory=list, description="Taxonomy keywords found in the text")
    passages: list[str] = Field(default_factory=list, description="Passages most similar to the label")


class IndexedDocument(BaseModel):
    """A document as stored in the search index (without its chunks)."""

    id: str
    url: str
    source: str
    urls: list[str] = Field(default_factory=list, description="Every URL the document was seen at")
    content_hash: str
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    publisher: str | None = None
    published_date: date | None = None
    language: str | None = None
    doi: str | None = None
    doc_type: DocType = "other"
    page_count: int | None = None
    word_count: int = 0
    text: str = ""
    themes: list[LabelScore] = Field(default_factory=list)
    policy_areas: list[LabelScore] = Field(default_factory=list)
    evidence_types: list[LabelScore] = Field(
        default_factory=list, description="Study design / evidence type labels (E<n> ids, config/taxonomy.yaml)")
    provenance: dict[str, FieldProvenance] = Field(default_factory=dict)
    quality: Quality = Quality()
    indexed_at: datetime = Field(default_factory=utcnow)


class Failure(BaseModel):
    """A document that did not make it into the index, with the stage and a clear reason."""

    url: str
    stage: Literal["discover", "robots", "fetch", "extract", "embed", "classify", "index"]
    reason: str


class RunSummary(BaseModel):
    """Counts for one ingestion run of one or more sources."""

    sources: list[str] = Field(default_factory=list)
    discovered: int = 0
    fetched: int = 0
    not_modified: int = 0
    unchanged: int = 0
    duplicates: int = 0
    extracted: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[Failure] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    def add_failure(self, failure: Failure) -> None:
        """Record a failure and count it."""
        self.failures.append(failure)
        self.failed += 1
