"""JSON-lines sources: a file of records, one JSON object a line, ingested without fetch or extraction.

The record form is BEIR's ``corpus.jsonl`` (``{"_id", "title", "text"}``); the field names are a
source setting (:class:`config.sources.JsonlFields`), and an optional ``url``, ``date`` and
``metadata`` are passed through when present.

Identity. Each record is the document ``file:///<absolute path of the file>#<_id>``, the id
percent-encoded (``urllib.parse.quote`` with no safe characters). A ``file:`` URL is left as it
is by :func:`crawl.urls.canonical_url` (fragments are only dropped from http(s) URLs), so the
fragment survives into the registry and the index, and :func:`index.evaluation.document_key`
reads it back as the key that qrels name (``corpus-id``). The identity follows the file's path:
ingest a moved file and its records are new documents (give the file a fixed place).

Change detection. A record's content hash is the SHA-256 of its id and the fields read (title,
text, url, date, metadata) as canonical JSON, so an unchanged record is skipped, a changed one is
re-indexed under the same id, and two records with the same text but different ids are both kept.

A line that is not a JSON object, lacks the id or the text, or repeats an earlier id is a
:class:`crawl.discovery.DiscoveryIssue`-style problem (line number and reason); the other lines
are still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

from pydantic import Field

from config.sources import JsonlFields
from core.models import DiscoveredURL, ExtractedDocument, FieldProvenance, Page, content_hash
from crawl.dates import parse_date_strictly

JSONL_MIME = "application/x-ndjson"


class JsonlError(Exception):
    """The file of a jsonl source cannot be read at all (missing, not a file, not UTF-8)."""


@dataclass(frozen=True)
class LineProblem:
    """A line of a jsonl file that was not used: its 1-based ``line`` number and the ``reason``."""

    line: int
    reason: str


class JsonlRecord(DiscoveredURL):
    """One record read from a jsonl file, carried from discovery to indexing.

    ``url`` is the record's identity (see the module docstring); ``record_url`` is the record's
    own link when it has one; ``digest`` is its content hash (64 hex digits)."""

    record_id: str
    line: int
    text: str
    record_url: str | None = None
    published: date | None = None
    metadata: dict = Field(default_factory=dict)
    digest: str


def record_identity(path: Path, record_id: str) -> str:
    """The document URL of record ``record_id`` in the file at ``path``:
    ``file:///abs/corpus.jsonl#<percent-encoded id>``."""
    return Path(path).expanduser().resolve().as_uri() + "#" + quote(record_id, safe="")


def _text_field(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} is a {type(value).__name__}, not a string")
    return value.strip() or None


def parse_record(line: str, number: int, path: Path, fields: JsonlFields) -> JsonlRecord:
    """Read one line of a jsonl file as a record.

    Raises:
        ValueError: the line is not a JSON object, or its id or text is missing, empty or not a string.
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"a JSON {type(record).__name__}, not an object")
    record_id = _text_field(record, fields.id)
    if record_id is None:
        raise ValueError(f"no {fields.id!r} (the record id)")
    text = _text_field(record, fields.text)
    if text is None:
        raise ValueError(f"record {record_id!r} has no {fields.text!r} (the text)")
    title = _text_field(record, fields.title)
    own_url = _text_field(record, fields.url)
    raw_date = _text_field(record, fields.date)
    parsed = parse_date_strictly(raw_date)
    metadata = record.get(fields.metadata)
    metadata = metadata if isinstance(metadata, dict) else {}
    payload = {"id": record_id, "title": title, "text": text, "url": own_url, "date": raw_date, "metadata": metadata}
    digest = content_hash(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    return JsonlRecord(url=record_identity(path, record_id), title=title, record_id=record_id, line=number,
                       text=text, record_url=own_url, digest=digest, metadata=metadata,
                       published=parsed.value.date() if parsed and parsed.value else None)


def read_records(path: Path, fields: JsonlFields | None = None,
                 problems: list[LineProblem] | None = None) -> list[JsonlRecord]:
    """Every usable record of the jsonl file at ``path``, in file order.

    Blank lines are ignored; a bad line (see :func:`parse_record`) or a repeated id is appended
    to ``problems`` with its line number and the rest is read.
    Raises JsonlError when the file does not exist or is not UTF-8 text.
    """
    path = Path(path).expanduser()
    fields = fields or JsonlFields()
    problems = problems if problems is not None else []
    if not path.is_file():
        raise JsonlError(f"file not found: {path}")
    records: list[JsonlRecord] = []
    first_line: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = parse_record(line, number, path, fields)
                except ValueError as exc:
                    problems.append(LineProblem(number, str(exc)))
                    continue
                if record.record_id in first_line:
                    problems.append(LineProblem(number, f"record id {record.record_id!r} repeats line "
                                                        f"{first_line[record.record_id]}; skipped"))
                    continue
                first_line[record.record_id] = number
                records.append(record)
    except UnicodeDecodeError as exc:
        raise JsonlError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return records


def extracted_from(record: JsonlRecord) -> ExtractedDocument:
    """The record as an extraction result: one page of text; title and date from the record;
    ``authors`` (list of strings), ``publisher`` and ``language`` from its metadata object when
    there. Other metadata keys count towards the content hash only."""
    provenance = {"text": FieldProvenance(source="jsonl_record", confidence=1.0)}
    if record.title:
        provenance["title"] = FieldProvenance(source="jsonl_record", confidence=1.0)
    if record.published:
        provenance["published_date"] = FieldProvenance(source="jsonl_record", confidence=1.0)
    meta = record.metadata
    authors = [str(a) for a in meta.get("authors", []) if isinstance(a, str) and a.strip()] \
        if isinstance(meta.get("authors"), list) else []
    publisher = meta.get("publisher") if isinstance(meta.get("publisher"), str) else None
    language = meta.get("language") if isinstance(meta.get("language"), str) else None
    for name, value in (("authors", authors), ("publisher", publisher), ("language", language)):
        if value:
            provenance[name] = FieldProvenance(source="jsonl_metadata", confidence=1.0)
    return ExtractedDocument(mime=JSONL_MIME, pages=[Page(number=1, text=record.text)], title=record.title,
                             authors=authors, publisher=publisher, language=language,
                             published_date=record.published, page_count=None, provenance=provenance)
