"""Content sniffing and dispatch to the HTML or PDF extractor."""

from __future__ import annotations

from core.models import ExtractedDocument


class ExtractionError(Exception):
    """A document whose text cannot be extracted, with a reason an operator can act on."""


def sniff_kind(data: bytes, content_type: str = "", url: str = "") -> str:
    """Decide what the bytes are: ``"pdf"``, ``"html"`` or ``"unknown"``.

    The bytes decide, not the name or the header: a PDF served as text/html is a PDF, and an
    HTML error page saved as ``.pdf`` is HTML. ``%PDF-`` may be preceded by up to 1 KiB of junk
    (allowed by the PDF spec's implementation notes).
    """
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    sample = data[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").lower()
    if sample.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta", b"<title")) \
            or b"<html" in sample or b"<body" in sample:
        return "html"
    if "html" in content_type.lower() or url.lower().endswith((".html", ".htm")):
        return "html" if b"<" in sample else "unknown"
    return "unknown"


def extract(data: bytes, *, url: str = "", content_type: str = "", ocr: bool = False,
            pdf_text: str = "pdfium") -> ExtractedDocument:
    """Extract text and metadata from one document's bytes; ``ocr`` lets image-only PDFs be read
    by Tesseract and ``pdf_text`` picks the engine for PDF page texts, ``"pdfminer"`` or
    ``"pdfium"`` (see :func:`extractors.pdf.extract_pdf`).

    Raises:
        ExtractionError: unknown format, encrypted PDF, no text layer, too little text, ...
    """
    if not data:
        raise ExtractionError("empty body")
    kind = sniff_kind(data, content_type, url)
    if kind == "pdf":
        from extractors.pdf import extract_pdf

        return extract_pdf(data, url=url, ocr=ocr, pdf_text=pdf_text)
    if kind == "html":
        from extractors.html import extract_html

        return extract_html(data, url=url, content_type=content_type)
    declared = content_type or "no content type"
    raise ExtractionError(f"unsupported content: neither PDF nor HTML ({declared}, starts {data[:16]!r})")


def extraction_fingerprint(mime: str, pdf_text: str) -> str:
    """The extraction settings that shaped a document of type ``mime``, as the short string the
    registry keeps beside its URL: ``"pdf_text=pdfium"`` for a PDF, ``""`` for types that no
    setting reads differently (HTML, JSON-lines records). See :func:`extraction_outdated`."""
    return f"pdf_text={pdf_text}" if mime == "application/pdf" else ""


def extraction_outdated(fingerprint: str | None, pdf_text: str) -> bool:
    """True when a document's recorded :func:`extraction_fingerprint` names other settings than
    the current ``extraction.pdf_text``: an ingest then reads it again even though its bytes did not
    change, so switching the engine re-reads the PDFs on the next run, and a run killed half-way
    is finished by the next one. None (a registry written before fingerprints were kept) and
    ``""`` are never outdated. ``extraction.ocr`` is handled apart (only documents kept as
    metadata only are read again)."""
    return bool(fingerprint) and fingerprint != extraction_fingerprint("application/pdf", pdf_text)
