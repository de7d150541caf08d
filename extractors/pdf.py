"""PDF with pdfminer.six: page texts in layout reading order, Info metadata, and a title from the
first page's layout (largest text near the top) when the metadata title is missing or junk."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTChar, LTPage, LTTextContainer, LTTextLine
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFParser, PDFSyntaxError
from pdfminer.pdftypes import resolve1
from pdfminer.psparser import PSException
from pdfminer.utils import decode_text

from core.models import ExtractedDocument, FieldProvenance, Page, Quality
from extractors.base import ExtractionError
from extractors.doctype import guess_doc_type
from extractors.text import cid_ratio, detect_language, normalise_text

JUNK_TITLE_RE = re.compile(
    r"^(microsoft (word|powerpoint|excel)\b|untitled|title|document\d*|slide \d+|powerpoint presentation|"
    r"print|report|draft|template)|\.(docx?|pdf|pptx?|xlsx?|indd|rtf|odt|qxd|tex|dvi)\s*$|^[\d\W_]+$|"
    r"^[A-Za-z0-9_-]+\.(doc|docx|pdf)$|^\s*$",
    re.I,
)
PDF_DATE_RE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


def pdf_date(value) -> date | None:
    """The calendar date of a PDF date string (``D:YYYYMMDDHHmmSSOHH'mm'``, PDF 32000-1 §7.9.4)."""
    if isinstance(value, bytes):
        value = decode_text(value)
    if not isinstance(value, str):
        return None
    match = PDF_DATE_RE.match(value.strip())
    if not match:
        return None
    year, month, day = int(match.group(1)), int(match.group(2) or 1), int(match.group(3) or 1)
    try:
        parsed = date(year, month, day)
    except ValueError:
        return None
    return parsed if 1990 <= year <= datetime.now().year + 1 else None


def _info_text(info: dict, key: str) -> str | None:
    value = resolve1(info.get(key))
    if isinstance(value, bytes):
        value = decode_text(value)
    if not isinstance(value, str):
        return None
    value = " ".join(value.replace("\x00", "").split())
    return value or None


def is_junk_title(title: str | None) -> bool:
    """True for missing or tool-generated titles ("Microsoft Word - draft3.docx", "Untitled")."""
    return not title or len(title) < 4 or bool(JUNK_TITLE_RE.search(title.strip()))


def _line_size(line: LTTextLine) -> float:
    sizes = [ch.size for ch in line if isinstance(ch, LTChar)]
    return round(sum(sizes) / len(sizes), 1) if sizes else 0.0


def layout_title(page: LTPage) -> str | None:
    """Title from a first page's layout: the lines of the largest type in the top 60% of the page,
    taken in reading order and joined (at most 300 characters)."""
    lines = []
    for box in page:
        if isinstance(box, LTTextContainer):
            for line in box:
                if isinstance(line, LTTextLine):
                    text = " ".join(line.get_text().split())
                    if len(re.sub(r"\W", "", text)) >= 3 and "(cid:" not in text:
                        lines.append((line, text, _line_size(line)))
    top = [item for item in lines if item[0].y1 >= page.height * 0.4]
    if not top:
        top = lines
    if not top:
        return None
    biggest = max(size for _, _, size in top)
    chosen = [item for item in top if item[2] >= biggest * 0.9]
    chosen.sort(key=lambda item: (-round(item[0].y1), item[0].x0))
    # keep only lines vertically close to the first chosen line (one title block)
    block = [chosen[0]]
    for item in chosen[1:]:
        if block[-1][0].y0 - item[0].y1 < biggest * 2.5:
            block.append(item)
    title = " ".join(text for _, text, _ in block)
    title = normalise_text(title)
    return title[:300] or None


def _page_text(page: LTPage) -> str:
    return "".join(box.get_text() for box in page if isinstance(box, LTTextContainer))


def extract_pdf(data: bytes, *, url: str = "") -> ExtractedDocument:
    """Extract page texts and metadata from PDF bytes.

    Raises:
        ExtractionError: not a PDF, malformed, encrypted with a password, or no text layer.
    """
    stream = io.BytesIO(data)
    try:
        document = PDFDocument(PDFParser(stream), password="")
    except PDFPasswordIncorrect:
        raise ExtractionError("encrypted PDF: it needs a password to open") from None
    except PDFEncryptionError as exc:
        raise ExtractionError(f"encrypted PDF with an unsupported scheme: {exc}") from None
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as exc:
        raise ExtractionError(f"malformed PDF: {exc.__class__.__name__}: {exc}") from None
    info = document.info[0] if document.info else {}
    try:
        declared_pages = resolve1(resolve1(document.catalog.get("Pages")).get("Count"))
    except Exception:  # noqa: BLE001 - a broken page tree only loses the declared count
        declared_pages = None

    raw_pages: list[str] = []
    first_page: LTPage | None = None
    try:
        for page in extract_pages(io.BytesIO(data), password="", laparams=LAParams()):
            if first_page is None:
                first_page = page
            raw_pages.append(_page_text(page))
    except PDFPasswordIncorrect:
        raise ExtractionError("encrypted PDF: it needs a password to open") from None
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types on broken files
        if not raw_pages:
            raise ExtractionError(f"malformed PDF: {exc.__class__.__name__}: {exc}") from None
    flags: list[str] = []
    if isinstance(declared_pages, int) and declared_pages > len(raw_pages):
        flags.append("partial_extraction")
    raw = "\n".join(raw_pages)
    ratio = cid_ratio(raw)
    if ratio > 0.1:
        flags.append("unmapped_glyphs")
    pages = [Page(number=i + 1, text=normalise_text(text)) for i, text in enumerate(raw_pages)]
    words = sum(len(p.text.split()) for p in pages)
    if words == 0:
        if "unmapped_glyphs" in flags:
            raise ExtractionError("PDF font has no Unicode mapping: text is only (cid:N) glyph codes; needs OCR")
        raise ExtractionError(f"PDF has no text layer ({len(raw_pages)} pages; scanned image?); OCR is not enabled")

    provenance: dict[str, FieldProvenance] = {"text": FieldProvenance(source="pdfminer_layout", confidence=0.8)}
    meta_title = _info_text(info, "Title")
    title = None
    if meta_title and not is_junk_title(meta_title):
        title = meta_title
        provenance["title"] = FieldProvenance(source="pdf_info", confidence=0.8)
    elif first_page is not None:
        title = layout_title(first_page)
        if title:
            provenance["title"] = FieldProvenance(source="pdf_first_page_layout", confidence=0.6)
    author = _info_text(info, "Author")
    authors = [a.strip() for a in re.split(r";|\band\b|,(?=\s*[A-Z][a-z]+\s)", author or "") if a.strip()] \
        if author and not is_junk_title(author + " x") else []
    if authors:
        provenance["authors"] = FieldProvenance(source="pdf_info", confidence=0.5)
    published = pdf_date(resolve1(info.get("CreationDate"))) or pdf_date(resolve1(info.get("ModDate")))
    if published:
        provenance["published_date"] = FieldProvenance(source="pdf_info_creation_date", confidence=0.5)
    text = "\n\n".join(p.text for p in pages)
    language, confidence = detect_language(text)
    if language:
        provenance["language"] = FieldProvenance(source="py3langid", confidence=round(confidence, 3))
    score = max(0.0, 1.0 - ratio - (0.3 if "partial_extraction" in flags else 0.0))
    doc_type = guess_doc_type(url=url, title=title, mime="application/pdf")
    provenance["doc_type"] = FieldProvenance(source="rules_url_title", confidence=0.5)
    return ExtractedDocument(
        mime="application/pdf", pages=pages, title=title, authors=authors, publisher=None,
        published_date=published, language=language, doc_type=doc_type,
        page_count=len(raw_pages), provenance=provenance, quality=Quality(score=round(score, 3), flags=flags),
    )
