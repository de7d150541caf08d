"""PDF with pdfminer.six: page texts in layout reading order, Info metadata, and a title from the
first page's layout (largest text near the top) when the metadata title is missing or junk."""

from __future__ import annotations

import copy
import io
import re
import statistics
import subprocess
from dataclasses import dataclass
from datetime import date, datetime

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LAParams, LTChar, LTPage, LTTextContainer, LTTextLine
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect, PDFXRefFallback
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser, PDFSyntaxError
from pdfminer.pdftypes import resolve1
from pdfminer.psparser import PSException
from pdfminer.utils import decode_text

from core.models import ExtractedDocument, FieldProvenance, Page, Quality
from extractors.base import ExtractionError
from extractors.dates import first_pages_date
from extractors.doctype import guess_doc_type
from extractors.doi import doi_in_text
from extractors.publisher import publisher_in_text
from extractors.text import (
    cid_ratio, detect_language, normalise_publisher, normalise_text, strip_running_lines, text_quality,
)
from extractors.xmp import XmpMetadata, parse_xmp

JUNK_TITLE_RE = re.compile(
    r"^(microsoft (word|powerpoint|excel)\b|untitled|title|document\d*|slide \d+|powerpoint presentation|"
    r"print|report|draft|template)|template|proofread|\(\d{3}\)\s*$|^\d{6,}|\.(docx?|pdf|pptx?|xlsx?|indd|rtf|odt|qxd|qxp|tex|dvi|exe|tmp|ps|eps|pub|wpd|ai|fm)\s*$|^[\d\W_]+$|"
    r"^[A-Za-z0-9_-]+\.(doc|docx|pdf)$|^\s*$",
    re.I,
)
C1_RE = re.compile(r"[\x80-\x9f]")  # C1 controls in a decoded Info string: PDFDocEncoding gone wrong
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


SALUTATION_RE = re.compile(r"^(dear|to|from|page \d+|date|ref|our ref|your ref)\b", re.I)
DATE_LINE_RE = re.compile(r"^\d{1,2}(st|nd|rd|th)? \w+ \d{4}$|^\w+ \d{4}$|^\d{4}$")


@dataclass(frozen=True)
class _Line:
    """A text line in the page's reading frame (rotated pages are turned upright): ``top`` and
    ``bottom`` grow upwards, ``left``/``right`` grow rightwards, all in PDF points."""
    text: str
    size: float
    bold: bool
    top: float
    bottom: float
    left: float
    right: float = 0.0

    @property
    def centre(self) -> float:
        return (self.left + self.right) / 2


def _chars(container) -> list[LTChar]:
    found: list[LTChar] = []
    for item in container:
        if isinstance(item, LTChar):
            found.append(item)
        elif isinstance(item, LTTextContainer):
            found.extend(_chars(item))
    return found


def page_orientation(page: LTPage) -> str:
    """The dominant text direction on a page from its glyphs' rendering matrices:
    ``"up"`` (ordinary), ``"down"`` (turned 90 degrees clockwise: text runs top to bottom),
    ``"ccw"`` (turned 90 degrees counter-clockwise: text runs bottom to top) or
    ``"flipped"`` (upside down). Pages set in landscape by rotating the text (not the
    page's /Rotate) come out of pdfminer's default layout one glyph per line."""
    votes = {"up": 0, "down": 0, "ccw": 0, "flipped": 0}
    for ch in _chars(page)[:2000]:
        a, b = ch.matrix[0], ch.matrix[1]
        if abs(a) >= abs(b):
            votes["up" if a > 0 else "flipped"] += 1
        else:
            votes["down" if b < 0 else "ccw"] += 1
    return max(votes, key=lambda key: (votes[key], key == "up"))


def _frame(orientation: str, page: LTPage, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """A bounding box turned into the upright reading frame: (top, bottom, left, right)."""
    if orientation == "down":
        return x1, x0, page.height - y1, page.height - y0
    if orientation == "ccw":
        return page.width - x0, page.width - x1, y0, y1
    if orientation == "flipped":
        return page.height - y0, page.height - y1, page.width - x1, page.width - x0
    return y1, y0, x0, x1


def frame_height(page: LTPage) -> float:
    """Height of the page in its reading frame (the width for pages whose text is turned 90 degrees)."""
    return page.width if page_orientation(page) in ("down", "ccw") else page.height


def _lines(page: LTPage) -> list[_Line]:
    orientation = page_orientation(page)
    found = []
    for box in page:
        if not isinstance(box, LTTextContainer):
            continue
        for line in box:
            if not isinstance(line, LTTextLine):
                continue
            chars = [ch for ch in line if isinstance(ch, LTChar)]
            text = " ".join(line.get_text().split())
            if not chars or len(re.sub(r"\W", "", text)) < 3 or "(cid:" in text:
                continue
            bold = sum("bold" in ch.fontname.lower() or "black" in ch.fontname.lower() for ch in chars) / len(chars)
            if orientation == "up":
                size = round(sum(ch.size for ch in chars) / len(chars), 1)
            else:  # turned glyphs: the size is the length of the glyph's up vector
                size = round(sum((ch.matrix[2] ** 2 + ch.matrix[3] ** 2) ** 0.5 for ch in chars) / len(chars), 1)
            top, bottom, left, right = _frame(orientation, page, line.x0, line.y0, line.x1, line.y1)
            found.append(_Line(text, size, bold >= 0.5, top, bottom, left, right))
    return found


def _aligned(item: _Line, block: list[_Line]) -> bool:
    """True when ``item`` shares the block's left edge, centre or right edge (within one type
    size): a wrapped title line does; a left-set section heading under a centred title does not."""
    tolerance = max(block[0].size, 4.0)
    return any(abs(getattr(item, edge) - getattr(block[-1], edge)) <= tolerance or
               abs(getattr(item, edge) - getattr(block[0], edge)) <= tolerance
               for edge in ("left", "centre", "right"))


def _block(lines: list[_Line], seed: _Line, *, same_style: bool) -> list[_Line]:
    """Lines directly below ``seed`` in reading order that continue its block (same style,
    aligned with it)."""
    ordered = sorted(lines, key=lambda item: (-round(item.top), item.left))
    block = [seed]
    for item in ordered[ordered.index(seed) + 1:]:
        gap = block[-1].bottom - item.top
        if gap > seed.size * 2.5:
            break
        if same_style and (abs(item.size - seed.size) > 0.6 or item.bold != seed.bold):
            break
        if not _aligned(item, block):
            break
        block.append(item)
    return block


def layout_title(page: LTPage, body_size: float | None = None) -> str | None:
    """Title from a first page's layout (in the manner of GROBID's header model, by rules):
    the block of the most prominent type (size, bold counted as 1.2x) in the top 65% of the page,
    skipping dates and salutations, followed by a subtitle block set directly below it in
    bold or larger-than-body type. None when no line stands out from the body text.
    ``body_size`` is the document's body type size (default: the page's median line size)."""
    lines = _lines(page)
    if not lines:
        return None
    body = body_size or statistics.median(line.size for line in lines)
    weight = lambda line: line.size * (1.2 if line.bold else 1.0)  # noqa: E731
    candidates = [line for line in lines if line.top >= frame_height(page) * 0.35
                  and not SALUTATION_RE.match(line.text) and not DATE_LINE_RE.match(line.text)]
    if not candidates:
        return None
    seed_weight = max(weight(line) for line in candidates)
    if seed_weight <= body * 1.05:
        return None
    seed = sorted((line for line in candidates if weight(line) >= seed_weight * 0.97),
                  key=lambda item: (-round(item.top), item.left))[0]
    title_block = _block(lines, seed, same_style=True)
    parts = [" ".join(line.text for line in title_block)]
    rest = sorted(lines, key=lambda item: (-round(item.top), item.left))
    after = [line for line in rest if line.top < title_block[-1].bottom]
    if after:
        follower = after[0]
        close = title_block[-1].bottom - follower.top <= seed.size * 2.5 and _aligned(follower, title_block)
        prominent = (follower.bold or follower.size > body * 1.15) and follower.size >= seed.size * 0.3
        is_date = bool(DATE_LINE_RE.match(follower.text))
        generic = len(parts[0].split()) <= 2  # "Newsletter", "Annual report": the date qualifies it
        if close and prominent and (not is_date or generic):
            subtitle = " ".join(line.text for line in _block(lines, follower, same_style=True))
            if len(subtitle.split()) <= 25:
                parts.append(subtitle)
    title = normalise_text(": ".join(parts)).replace("\n", " ")
    return title[:300] or None


def title_supported_by_page(title: str, page_text: str) -> bool:
    """True when most (>= 70%) of the title's words appear on the page (metadata check)."""
    words = re.findall(r"\w+", title.lower())
    if not words:
        return False
    present = set(re.findall(r"\w+", page_text.lower()))
    return sum(word in present for word in words) / len(words) >= 0.7


def choose_pdf_title(meta: str | None, layout: str | None, first_pages_text: str) -> tuple[str | None, str, float]:
    """Pick the title: the Info title when it is not junk and the first pages bear it out, else
    the layout title, else a plausible Info title. Returns (title, provenance source, confidence)."""
    usable_meta = meta if meta and not is_junk_title(meta) else None
    if usable_meta and title_supported_by_page(usable_meta, first_pages_text):
        meta_words = set(re.findall(r"\w+", usable_meta.lower()))
        if layout and meta_words < set(re.findall(r"\w+", layout.lower())):
            return layout, "pdf_first_page_layout", 0.9  # the page shows the fuller title
        return usable_meta, "pdf_info", 0.9
    if layout:
        return layout, "pdf_first_page_layout", 0.7
    if usable_meta:
        return usable_meta, "pdf_info_unverified", 0.4
    return None, "", 0.0


OBJ_RE = re.compile(rb"(?<![0-9])(\d{1,10})\s+(\d{1,5})\s+obj\b")
PAGE_TYPE_RE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def _object_offsets(data: bytes) -> dict[int, tuple[int, int]]:
    """objid -> (offset, generation) of every uncompressed object in the file; a later
    definition (an incremental update) replaces an earlier one."""
    return {int(m.group(1)): (m.start(), int(m.group(2))) for m in OBJ_RE.finditer(data)}


def count_page_objects(data: bytes) -> int:
    """An independent page count: uncompressed objects whose latest definition is
    ``/Type /Page``, found by scanning the bytes (not the xref chain). 0 when the page
    objects are in compressed object streams (then only the page tree's /Count is known)."""
    offsets = sorted(start for start, _ in _object_offsets(data).values())
    count = 0
    for i, start in enumerate(offsets):
        end = offsets[i + 1] if i + 1 < len(offsets) else len(data)
        body = data[start:end]
        body = body[:body.find(b"endobj")] if b"endobj" in body else body
        if b"stream" in body:
            body = body[:body.find(b"stream")]
        count += bool(PAGE_TYPE_RE.search(body))
    return count


def rescan_document(data: bytes) -> PDFDocument:
    """The PDF re-read with a cross-reference built from a scan of every ``N G obj`` in the
    file, ahead of its own xref sections: recovers objects from xref sections that the
    ``startxref``/``/Prev`` chain does not reach (pdfminer.six issue 493, case 010)."""
    scan = PDFXRefFallback()
    scan.offsets = {objid: (None, offset, gen) for objid, (offset, gen) in _object_offsets(data).items()}
    parser = PDFParser(io.BytesIO(data))
    rescued = PDFDocument(parser, password="")
    rescued.xrefs = [scan, *rescued.xrefs]
    return rescued


class TurnedTextAggregator(PDFPageAggregator):
    """pdfminer's page aggregator that lays out a page whose text is turned 90 degrees (a
    landscape table set on a portrait page) with ``detect_vertical``: the default layout reads
    such a page one glyph per line. The orientation is decided from the page's glyphs before
    layout analysis, so each page is interpreted and analysed once."""

    def end_page(self, page: PDFPage) -> None:
        base = self.laparams
        if base is None or base.detect_vertical or page_orientation(self.cur_item) not in ("down", "ccw"):
            super().end_page(page)
            return
        self.laparams = copy.copy(base)
        self.laparams.detect_vertical = True
        try:
            super().end_page(page)
        finally:
            self.laparams = base


def iter_layout_pages(document: PDFDocument, laparams: LAParams | None = None):
    """Yield each page's layout (LTPage) of an opened document, in page-tree order (pdfminer's
    ``extract_pages`` on a document we already parsed, so the file is parsed once)."""
    manager = PDFResourceManager(caching=True)
    device = TurnedTextAggregator(manager, laparams=laparams or LAParams())
    interpreter = PDFPageInterpreter(manager, device)
    for page in PDFPage.create_pages(document):
        interpreter.process_page(page)
        yield device.get_result()


def choose_pdf_date(info_date: date | None, first_pages: list[str]) -> tuple[date | None, str, float]:
    """The publication date: one printed on the first pages (after a "published" cue, or a
    cover/letter date line) beats the Info dictionary's creation date, which is when the file
    was made (often days before publication); a month-only printed date ("May 2025") is
    kept unless the creation date falls in that month. Returns (date, source, confidence)."""
    printed, source, precision = first_pages_date(first_pages)
    if printed and precision == "day":
        return printed, source, 0.85 if source == "pdf_text_published_cue" else 0.75
    if printed and precision == "month":
        if info_date and (info_date.year, info_date.month) == (printed.year, printed.month):
            return info_date, "pdf_info_creation_date", 0.6
        return printed, source, 0.6
    if info_date:
        return info_date, "pdf_info_creation_date", 0.5
    return None, "", 0.0


def _xmp_of(document: PDFDocument) -> XmpMetadata:
    """The document's XMP packet (catalog ``/Metadata``), parsed; empty when absent or unreadable."""
    try:
        stream = resolve1(document.catalog.get("Metadata"))
        return parse_xmp(stream.get_data()) if stream is not None and hasattr(stream, "get_data") else XmpMetadata()
    except Exception:  # noqa: BLE001 - a broken metadata stream only loses the XMP fields
        return XmpMetadata()


def _page_text(page: LTPage) -> str:
    return "".join(box.get_text() for box in page if isinstance(box, LTTextContainer))


PDF_TEXT_ENGINES = ("pdfminer", "pdfium")
LAYOUT_PAGES = 4  # pages laid out by pdfminer for the title and the body font size when PDFium reads the text
MIN_ENGINE_AGREEMENT = 0.6  # word-set Jaccard of the two engines' first pages below which pdfminer's text is kept


def pdfium_page_texts(data: bytes, expected_pages: int) -> list[str] | None:
    """Each page's text as PDFium (Google's PDF engine, through pypdfium2) reads it, in page
    order; None when PDFium cannot open the file or counts another number of pages than
    ``expected_pages`` (pdfminer's walk of the page tree: PDFium believes a wrong ``/Count``, and
    counts a page tree that lists one page a million times as a million pages), checked before
    any page is read. The caller then falls back to pdfminer.

    PDFium replaces a hyphen that ends a line with U+FFFE and joins the lines; it is put back as
    "-" and a line break, so ``normalise_text`` joins the word only where it joins pdfminer's
    text (between lower-case letters: "evalu-/ation", not "pre-/COVID" or "2023-/24")."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except (pypdfium2.PdfiumError, ValueError, OSError):
        return None
    texts: list[str] = []
    try:
        if len(document) != expected_pages:
            return None
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                texts.append(textpage.get_text_range().replace("\ufffe", "-\n"))
            finally:
                textpage.close()
                page.close()
    except pypdfium2.PdfiumError:
        return None
    finally:
        document.close()
    return texts


MAPPED_CID_ORDERINGS = {b"Japan1", b"GB1", b"CNS1", b"Korea1", b"KR"}  # Adobe collections with Unicode CMaps


def unmapped_composite_font(font) -> bool:
    """Whether a font dictionary is a composite (Type0) font whose glyphs have no known text: no
    ``/ToUnicode`` map, no embedded font program (whose own cmap pdfminer and PDFium read) and
    no Adobe character collection with a Unicode CMap (Japan1, GB1, CNS1, Korea1). pdfminer reads
    such glyphs as ``(cid:N)``, PDFium as shifted letters (case 013)."""
    font = resolve1(font)
    if not isinstance(font, dict) or getattr(font.get("Subtype"), "name", None) != "Type0" or "ToUnicode" in font:
        return False
    descendants = resolve1(font.get("DescendantFonts"))
    descendant = resolve1(descendants[0]) if isinstance(descendants, list) and descendants else None
    if not isinstance(descendant, dict):
        return True
    info = resolve1(descendant.get("CIDSystemInfo"))
    if isinstance(info, dict) and resolve1(info.get("Ordering")) in MAPPED_CID_ORDERINGS:
        return False
    descriptor = resolve1(descendant.get("FontDescriptor"))
    return not (isinstance(descriptor, dict) and any(k in descriptor for k in ("FontFile", "FontFile2", "FontFile3")))


def _unmapped_composite_font(resources, seen: set[int], depth: int = 0) -> bool:
    """Whether ``resources`` (a page's or form's resource dictionary) use a font of
    :func:`unmapped_composite_font`, directly or in a form XObject (up to 4 levels)."""
    resources = resolve1(resources)
    if not isinstance(resources, dict) or depth > 4:
        return False
    fonts = resolve1(resources.get("Font"))
    if any(unmapped_composite_font(font) for font in (fonts.values() if isinstance(fonts, dict) else ())):
        return True
    forms = resolve1(resources.get("XObject"))
    for ref in (forms.values() if isinstance(forms, dict) else ()):
        objid = getattr(ref, "objid", None)
        if objid is not None:
            if objid in seen:
                continue
            seen.add(objid)
        form = resolve1(ref)
        attrs = getattr(form, "attrs", None)
        if isinstance(attrs, dict) and getattr(attrs.get("Subtype"), "name", None) == "Form" \
                and _unmapped_composite_font(attrs.get("Resources"), seen, depth + 1):
            return True
    return False


def pdfium_can_read(document: PDFDocument) -> int | None:
    """The number of pages pdfminer finds in the page tree when PDFium may read the page texts;
    None when it may not: the tree cannot be walked, or a page uses a font whose glyphs have no
    known text (:func:`unmapped_composite_font`; on any page: the first pages' agreement check,
    :func:`engines_agree`, cannot see a later page's unmapped glyphs, which PDFium would read as
    shifted letters). Only dictionaries are read, no content stream."""
    try:
        pages = list(PDFPage.create_pages(document))
        seen: set[int] = set()
        if any(_unmapped_composite_font(page.resources, seen) for page in pages):
            return None
    except Exception:  # noqa: BLE001 - a broken page tree: pdfminer's own path reports it
        return None
    return len(pages)


def engines_agree(pdfminer_pages: list[str], pdfium_pages: list[str]) -> float:
    """Word-set Jaccard similarity (0..1) of the two engines' texts of the same first pages,
    lower-cased; 1.0 when both are empty. A font without a Unicode map reads as ``(cid:N)``
    codes in pdfminer and as shifted letters in PDFium ("+HOORZRUOG" for "Hello world", case
    013): the engines then disagree and pdfminer's text (and its clear error) is kept."""
    first = set(normalise_text(" ".join(pdfminer_pages)).lower().split())
    second = set(normalise_text(" ".join(pdfium_pages)).lower().split())
    if not first and not second:
        return 1.0
    return len(first & second) / len(first | second)


def extract_pdf(data: bytes, *, url: str = "", ocr: bool = False, ocr_language: str = "eng",
                pdf_text: str = "pdfium") -> ExtractedDocument:
    """Extract page texts and metadata from PDF bytes.

    ``pdf_text`` picks the engine that reads the page texts: ``"pdfminer"`` (pdfminer.six's
    layout analysis on every page) or ``"pdfium"`` (PDFium through pypdfium2, about 5.8x the
    pages/s on the corpus; pdfminer still opens the file, reads the metadata and lays out the first
    ``LAYOUT_PAGES`` pages for the title). PDFium's text is used only when no page uses a font
    without a Unicode map (:func:`pdfium_can_read`), PDFium opens the file, counts the pages
    pdfminer counts, finds words and agrees with pdfminer on the first pages (``engines_agree`` >=
    ``MIN_ENGINE_AGREEMENT``); otherwise the document is read by pdfminer as before (provenance
    ``text`` says which engine was used).

    With ``ocr`` a PDF without a usable text layer (scanned pages, or only ``(cid:N)`` glyph
    codes) has its page images read by Tesseract (flag ``ocr``, text source ``tesseract_ocr``).

    Raises:
        ValueError: ``pdf_text`` names no engine.
        ExtractionError: not a PDF, malformed, encrypted with a password, glyphs without a
            Unicode mapping, or no text layer with OCR on and failing. An image-only PDF with
            OCR off comes back as metadata only (empty pages, flags ``no_text_layer`` and
            ``metadata_only``, quality score 0).
    """
    if pdf_text not in PDF_TEXT_ENGINES:
        raise ValueError(f"unknown PDF text engine {pdf_text!r}: use one of {', '.join(PDF_TEXT_ENGINES)}")
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

    readable = pdfium_can_read(document) if pdf_text == "pdfium" else None
    pdfium_pages = pdfium_page_texts(data, readable) if readable else None
    raw_pages: list[str] = []
    first_page: LTPage | None = None
    sizes: list[float] = []
    recovered = False
    text_engine = "pdfminer_layout"
    layout_texts: list[str] = []  # pdfminer's texts of the pages it laid out, when PDFium read the document
    try:
        for page in iter_layout_pages(document):
            if first_page is None or (len(raw_pages) < 2 and not _lines(first_page)):
                first_page = page  # a cover that is only an image: the title is on the next page
            if len(raw_pages) < LAYOUT_PAGES:
                sizes.extend(line.size for line in _lines(page))
            raw_pages.append(_page_text(page))
            if pdfium_pages is not None and len(raw_pages) == min(LAYOUT_PAGES, len(pdfium_pages)):
                if (any(text.split() for text in pdfium_pages) and cid_ratio("\n".join(raw_pages)) <= 0.1
                        and engines_agree(raw_pages, pdfium_pages[:len(raw_pages)]) >= MIN_ENGINE_AGREEMENT):
                    layout_texts, raw_pages, text_engine = raw_pages, list(pdfium_pages), "pdfium"
                    break
                pdfium_pages = None  # disagreement: pdfminer reads the rest
        if text_engine != "pdfium" and isinstance(declared_pages, int) and declared_pages > len(raw_pages):
            # pages the xref chain does not reach (case 010): read them from a full object scan
            rescued = [_page_text(page) for page in iter_layout_pages(rescan_document(data))]
            if len(rescued) > len(raw_pages):
                raw_pages, recovered = rescued, True
    except PDFPasswordIncorrect:
        raise ExtractionError("encrypted PDF: it needs a password to open") from None
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types on broken files
        if not raw_pages:
            raise ExtractionError(f"malformed PDF: {exc.__class__.__name__}: {exc}") from None
    flags: list[str] = []
    if recovered:
        flags.append("xref_recovered")
    independent = max(declared_pages if isinstance(declared_pages, int) else 0, count_page_objects(data))
    if independent > len(raw_pages):
        flags.append("partial_extraction")
    raw = "\n".join(raw_pages)
    ratio = cid_ratio(raw)
    if ratio > 0.1:
        flags.append("unmapped_glyphs")
    page_texts, _removed = strip_running_lines([normalise_text(text) for text in raw_pages])
    pages = [Page(number=i + 1, text=text) for i, text in enumerate(page_texts)]
    words = sum(len(p.text.split()) for p in pages)
    text_source = FieldProvenance(source=text_engine, confidence=0.8)
    if words == 0 and ocr:
        from extractors.ocr import ocr_page

        try:
            ocr_texts = [ocr_page(page, language=ocr_language) for page in iter_layout_pages(document)]
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            raise ExtractionError(f"PDF has no text layer and OCR failed: {exc}") from None
        pages = [Page(number=i + 1, text=normalise_text(text)) for i, text in enumerate(ocr_texts)]
        words = sum(len(p.text.split()) for p in pages)
        if words == 0:
            raise ExtractionError(f"PDF has no text layer and OCR found no text ({len(raw_pages)} pages)")
        flags.append("ocr")
        ratio = 0.0
        text_source = FieldProvenance(source="tesseract_ocr", confidence=0.6)
    if words == 0:
        if "unmapped_glyphs" in flags:
            raise ExtractionError("PDF font has no Unicode mapping: text is only (cid:N) glyph codes; needs OCR")
        if not raw_pages:
            raise ExtractionError("PDF has no pages")
        # an image-only (scanned) PDF with OCR off: kept as metadata only (title, dates, page
        # count from the Info/XMP metadata and the file), flagged, so it can be found and OCR'd later
        flags += ["no_text_layer", "metadata_only"]
        text_source = FieldProvenance(source="none: no text layer and OCR is not enabled", confidence=0.0)

    provenance: dict[str, FieldProvenance] = {"text": text_source}
    # metadata (title, date, DOI, publisher) is read from pdfminer's first pages whichever engine
    # read the body: its reading order keeps a cover's lines together (PDFium reads a turned
    # table's rows first and the cover's date line last)
    meta_texts = strip_running_lines([normalise_text(text) for text in layout_texts + raw_pages[len(layout_texts):]])[0] \
        if layout_texts else [p.text for p in pages]
    xmp = _xmp_of(document)
    info_title = _info_text(info, "Title")
    meta_title, meta_source = info_title, "pdf_info"
    if xmp.title and not is_junk_title(xmp.title) and (is_junk_title(info_title) or C1_RE.search(info_title)):
        meta_title, meta_source = xmp.title, "pdf_xmp"  # Info missing, junk or mis-decoded: XMP is Unicode
    title, title_source, confidence = choose_pdf_title(
        meta_title,
        layout_title(first_page, statistics.median(sizes) if sizes else None) if first_page is not None else None,
        " ".join(meta_texts[:2]))
    if title:
        if meta_source == "pdf_xmp":
            title_source = title_source.replace("pdf_info", "pdf_xmp")
        provenance["title"] = FieldProvenance(source=title_source, confidence=confidence)
    author = _info_text(info, "Author")
    authors = [a.strip() for a in re.split(r";|\band\b|,(?=\s*[A-Z][a-z]+\s)", author or "") if a.strip()] \
        if author and not is_junk_title(author + " x") else []
    if authors:
        provenance["authors"] = FieldProvenance(source="pdf_info", confidence=0.5)
    elif xmp.creators:
        authors = [c for c in xmp.creators if not is_junk_title(c + " x")]
        if authors:
            provenance["authors"] = FieldProvenance(source="pdf_xmp", confidence=0.5)
    publisher, publisher_source = normalise_publisher(xmp.publisher), "pdf_xmp"
    if not publisher:
        publisher, publisher_source = publisher_in_text(meta_texts[:3], meta_texts[3:][-2:])
    if publisher:
        provenance["publisher"] = FieldProvenance(source=publisher_source,
                                                  confidence=0.6 if publisher_source == "pdf_xmp" else 0.5)
    info_date = pdf_date(resolve1(info.get("CreationDate"))) or pdf_date(resolve1(info.get("ModDate")))
    published, date_source, date_confidence = choose_pdf_date(info_date or xmp.created, meta_texts[:3])
    if date_source == "pdf_info_creation_date" and not info_date:
        date_source = "pdf_xmp_create_date"
    if published:
        provenance["published_date"] = FieldProvenance(source=date_source, confidence=date_confidence)
    doi, doi_source = xmp.doi, "pdf_xmp"
    if not doi and meta_texts:
        doi, doi_source = doi_in_text(meta_texts[0]), "pdf_first_page_text"
    if doi:
        provenance["doi"] = FieldProvenance(source=doi_source, confidence=0.8 if doi_source == "pdf_xmp" else 0.6)
    text = "\n\n".join(p.text for p in pages)
    language, confidence = detect_language(text)
    if language:
        provenance["language"] = FieldProvenance(source="py3langid", confidence=round(confidence, 3))
    score, text_flags = text_quality(text, "" if "ocr" in flags else raw)
    flags = [flag for flag in flags if flag != "unmapped_glyphs"] + text_flags
    empty_pages = sum(not p.text.split() for p in pages)
    if empty_pages:
        flags.append("empty_pages")
        score -= 0.5 * empty_pages / len(pages)
    if "partial_extraction" in flags:
        score -= 0.3
    score = round(max(0.0, score), 3) if "metadata_only" not in flags else 0.0
    doc_type = guess_doc_type(url=url, title=title, mime="application/pdf")
    provenance["doc_type"] = FieldProvenance(source="rules_url_title", confidence=0.5)
    return ExtractedDocument(
        mime="application/pdf", pages=pages, title=title, authors=authors, publisher=publisher, doi=doi,
        published_date=published, language=language, doc_type=doc_type,
        page_count=max(len(raw_pages), independent), provenance=provenance, quality=Quality(score=score, flags=flags),
    )
