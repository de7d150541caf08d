"""Reading-list exports: CSV, RIS (rispy), BibTeX (bibtexparser, LaTeX-encoded) and JSON Lines.

Each format turns one :class:`ExportRecord` into text; :data:`FORMATS` gives the header, the
record writer and the media type, so an export can be streamed record by record.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import bibtexparser
import rispy
from bibtexparser.middlewares import LatexEncodingMiddleware
from bibtexparser.model import Entry, Field as BibField
from pydantic import BaseModel, Field

from core.models import IndexedDocument


class ExportLabel(BaseModel):
    """A label in an export: id, name and score."""

    id: str
    label: str
    score: float


class ExportRecord(BaseModel):
    """One document of an export (metadata and labels, no full text)."""

    id: str
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    publisher: str | None = None
    source: str | None = None
    published_date: date | None = None
    doc_type: str | None = None
    language: str | None = None
    page_count: int | None = None
    word_count: int = 0
    url: str
    urls: list[str] = Field(default_factory=list)
    score: float | None = Field(None, description="Relevance score in the search (None when browsing)")
    themes: list[ExportLabel] = Field(default_factory=list)
    policy_areas: list[ExportLabel] = Field(default_factory=list)
    evidence_types: list[ExportLabel] = Field(default_factory=list)

    @classmethod
    def from_document(cls, doc: IndexedDocument, score: float | None) -> "ExportRecord":
        """The export record of an indexed document."""
        labels = lambda items: [ExportLabel(id=l.id, label=l.label, score=round(l.score, 4)) for l in items]  # noqa: E731
        return cls(id=doc.id, title=doc.title, authors=doc.authors, publisher=doc.publisher, source=doc.source,
                   published_date=doc.published_date, doc_type=doc.doc_type, language=doc.language,
                   page_count=doc.page_count, word_count=doc.word_count, url=doc.url, urls=doc.urls,
                   score=score, themes=labels(doc.themes), policy_areas=labels(doc.policy_areas),
                   evidence_types=labels(doc.evidence_types))


# -- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "title", "authors", "publisher", "published_date", "year", "doc_type", "language",
               "page_count", "word_count", "url", "source", "themes", "policy_areas", "evidence_types", "score")


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A CSV text cell that a spreadsheet will not run as a formula: a value beginning with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'`` (OWASP, "CSV Injection"), which
    spreadsheets show as text and hide. ``'=HYPERLINK(...)`` is what a title ``=HYPERLINK(...)``
    becomes; other values are unchanged."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _labels_text(labels: list[ExportLabel]) -> str:
    return "; ".join(f"{l.id} {l.label}" for l in labels)


def csv_record(record: ExportRecord) -> str:
    """One CSV row (RFC 4180, CRLF), columns :data:`CSV_COLUMNS`; lists joined by ``; ``; text
    cells made :func:`spreadsheet_safe`."""
    day = record.published_date
    return _csv_line([value if not isinstance(value, str) else spreadsheet_safe(value) for value in (
        record.id, record.title or "", "; ".join(record.authors), record.publisher or "",
        day.isoformat() if day else "", day.year if day else "", record.doc_type or "", record.language or "",
        record.page_count if record.page_count is not None else "", record.word_count, record.url,
        record.source or "", _labels_text(record.themes), _labels_text(record.policy_areas),
        _labels_text(record.evidence_types), "" if record.score is None else record.score,
    )])


# -- RIS ----------------------------------------------------------------------------------------

_RIS_TYPES = {"report": "RPRT", "evaluation": "RPRT", "inspection": "RPRT", "policy_paper": "RPRT",
              "briefing": "RPRT", "guidance": "RPRT", "blog_post": "BLOG", "news": "NEWS", "web_page": "ELEC",
              "data": "DATA", "transcript": "GEN", "other": "GEN"}


class _RisWriter(rispy.RisWriter):
    """rispy's writer without the ``1.`` counter line before each reference (reference managers
    read both; plain ``TY``..``ER`` blocks concatenate cleanly when streamed one by one)."""

    def set_header(self, count):
        """No header line."""
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ris_record(record: ExportRecord) -> str:
    """One RIS reference (TY ... ER), written by rispy; values on one line each."""
    entry: dict = {"type_of_reference": _RIS_TYPES.get(record.doc_type or "other", "GEN"),
                   "title": _one_line(record.title or record.url), "urls": [record.url], "id": record.id}
    if record.authors:
        entry["authors"] = [_one_line(a) for a in record.authors]
    if record.publisher:
        entry["publisher"] = _one_line(record.publisher)
    if record.published_date:
        entry["year"] = str(record.published_date.year)
        entry["date"] = record.published_date.strftime("%Y/%m/%d")
    if record.language:
        entry["language"] = record.language
    keywords = [l.label for l in record.themes + record.policy_areas + record.evidence_types]
    if keywords:
        entry["keywords"] = keywords
    return rispy.dumps([entry], implementation=_RisWriter).strip("\n") + "\n\n"


# -- BibTeX -------------------------------------------------------------------------------------

_BIB_REPORTS = {"report", "evaluation", "inspection", "policy_paper", "briefing", "guidance"}
# titles are text, never maths or links: "$" is escaped (keep_math would leave "$x$" to LaTeX's maths
# mode) and a URL in a title stays text (enclose_urls wrapped it in \url{...}, swallowing what followed)
_LATEX = LatexEncodingMiddleware(keep_math=False, enclose_urls=False, allow_inplace_modification=True)


def bibtex_key(record: ExportRecord) -> str:
    """A citation key: first author's (or publisher's) first word, year, and 6 id characters."""
    name = (record.authors[0].split()[-1] if record.authors else (record.publisher or "hub").split()[0])
    word = re.sub(r"[^A-Za-z0-9]", "", name).lower() or "hub"
    year = str(record.published_date.year) if record.published_date else "nd"
    return f"{word}{year}{record.id[:6]}"


def bibtex_record(record: ExportRecord) -> str:
    """One BibTeX entry (``@techreport`` for reports, else ``@misc``), LaTeX-encoded by bibtexparser."""
    fields = {"title": record.title or record.url, "url": record.url}
    if record.authors:
        fields["author"] = " and ".join(record.authors)
    if record.published_date:
        fields["year"] = str(record.published_date.year)
        fields["month"] = str(record.published_date.month)
    if record.publisher:
        fields["institution" if record.doc_type in _BIB_REPORTS else "publisher"] = record.publisher
    if record.language:
        fields["language"] = record.language
    keywords = [l.label for l in record.themes + record.policy_areas + record.evidence_types]
    if keywords:
        fields["keywords"] = ", ".join(keywords)
    kind = "techreport" if record.doc_type in _BIB_REPORTS else "misc"
    entry = Entry(kind, bibtex_key(record), [BibField(k, v) for k, v in fields.items()])
    library = bibtexparser.Library([entry])
    url = entry.fields_dict["url"].value
    library = _LATEX.transform(library)
    library.entries[0].fields_dict["url"].value = url  # URLs stay verbatim (the url field is not LaTeX)
    return bibtexparser.write_string(library).strip("\n") + "\n\n"


# -- JSON Lines ---------------------------------------------------------------------------------

def jsonl_record(record: ExportRecord) -> str:
    """One JSON object per line."""
    return record.model_dump_json() + "\n"


@dataclass(frozen=True)
class Format:
    """An export format: what comes first, how each record is written, media type, file suffix."""

    header: str
    write: Callable[[ExportRecord], str]
    media_type: str
    suffix: str


FORMATS: dict[str, Format] = {
    "csv": Format(_csv_line(list(CSV_COLUMNS)), csv_record, "text/csv; charset=utf-8", "csv"),
    "ris": Format("", ris_record, "application/x-research-info-systems; charset=utf-8", "ris"),
    "bibtex": Format("", bibtex_record, "application/x-bibtex; charset=utf-8", "bib"),
    "jsonl": Format("", jsonl_record, "application/x-ndjson; charset=utf-8", "jsonl"),
}
