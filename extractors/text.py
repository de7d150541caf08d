"""Text helpers shared by the extractors: normalisation, quality and language."""

from __future__ import annotations

import re
import unicodedata

from functools import lru_cache

CID_RE = re.compile(r"\(cid:\d+\)")
HYPHEN_BREAK_RE = re.compile(r"(?<=[a-z])-\n(?=[a-z])")
SPACES_RE = re.compile(r"[ \t\u00a0]+")
BLANKS_RE = re.compile(r"\n{3,}")
MOJIBAKE_RE = re.compile(r"(?:Ã.|â€|Â\s|Ð.|Ñ.){3,}")
# single UTF-8-as-cp1252/latin-1 sequences that never occur in real text: "Ã©" (é), "â€™" (’), "Â " (nbsp)
MOJIBAKE_PAIR_RE = re.compile(r"Ã[\u00a0-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u2013-\u203a\u20ac\u2122]|â€[\u0153\u2122\u201c\u201d\u02dc\u00a6\u2018\u2019\u2026]|Â[\u00a0-\u00bf]")


def normalise_text(text: str) -> str:
    """NFKC (ligatures and compatibility characters), join end-of-line hyphenation, drop
    ``(cid:N)`` glyph codes and control characters, collapse spaces and blank lines."""
    text = CID_RE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    if not text.replace("\n", "").replace("\t", "").isprintable():  # else there is no control character
        text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable() or unicodedata.category(ch)[0] != "C")
    text = HYPHEN_BREAK_RE.sub("", text)
    text = SPACES_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return BLANKS_RE.sub("\n\n", text).strip()


def cid_ratio(raw: str) -> float:
    """Share of characters of ``raw`` that belong to ``(cid:N)`` glyph codes (0..1)."""
    if not raw:
        return 0.0
    return sum(len(m) for m in CID_RE.findall(raw)) / len(raw)


def looks_like_mojibake(text: str) -> bool:
    """True when UTF-8 read as a single-byte charset shows up repeatedly (Ã©, â€™, ...)."""
    sample = text[:20000]
    return len(MOJIBAKE_RE.findall(sample)) >= 3 or len(MOJIBAKE_PAIR_RE.findall(sample)) >= 3


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str | None, float]:
    """ISO 639-1 code of ``text`` by py3langid (model shipped in the package) and a 0..1
    confidence; (None, 0) for fewer than 20 words."""
    sample = text[:20000]
    if len(sample.split()) < 20:
        return None, 0.0
    code, probability = _identifier().classify(sample)
    return code, float(probability)


PAGE_NUMBER_RE = re.compile(r"^(?:page\s*)?[-–—(\[]?\s*\d{1,3}\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?$|^[ivxlc]{1,6}$", re.I)
DIGITS_RE = re.compile(r"\d+")


def _edge_indexes(lines: list[str], depth: int) -> list[int]:
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:depth] + filled[-depth:]))


def strip_running_lines(pages: list[str], *, depth: int = 2) -> tuple[list[str], int]:
    """Remove running headers, footers and page numbers from normalised page texts.

    A line among the first or last ``depth`` non-blank lines of a page is dropped when the same
    line (digits masked, so "Page 3 of 40" and "Annual report 2023 | 7" repeat) sits at an edge
    of at least half the pages (three pages at least), or when it is a bare page number.
    A page that would lose every line keeps them all. Returns (pages, number of lines removed).
    """
    split = [page.split("\n") for page in pages]
    counts: dict[str, int] = {}
    for lines in split:
        for key in {DIGITS_RE.sub("#", lines[i].strip().casefold()) for i in _edge_indexes(lines, depth)}:
            counts[key] = counts.get(key, 0) + 1
    threshold = max(3, (len(pages) + 1) // 2)
    removed = 0
    cleaned = []
    for lines in split:
        drop = set()
        for i in _edge_indexes(lines, depth):
            line = lines[i].strip()
            key = DIGITS_RE.sub("#", line.casefold())
            if PAGE_NUMBER_RE.match(line) or (len(pages) >= 3 and counts.get(key, 0) >= threshold):
                drop.add(i)
        if all(i in drop or not line.strip() for i, line in enumerate(lines)):
            drop = set()  # the whole page would go: it is content ("Page1" alone), not furniture
        removed += len(drop)
        cleaned.append("\n".join(line for i, line in enumerate(lines) if i not in drop).strip())
    return cleaned, removed


def text_quality(text: str, raw: str = "") -> tuple[float, list[str]]:
    """A 0..1 quality score and flags for an extracted text.

    ``raw`` is the text before normalisation (PDF: pdfminer's output, where ``(cid:N)`` codes
    still show). Flags: ``empty_text_layer`` (no words), ``unmapped_glyphs`` (more than 10% of
    the raw characters are ``(cid:N)`` codes), ``cid_glyphs`` (some are), ``mojibake`` (UTF-8
    read as a single-byte charset), ``replacement_characters`` (more than 0.5% U+FFFD),
    ``low_letter_ratio`` (under half the non-space characters are letters: tables of numbers,
    garbled glyphs). Each flag lowers the score.
    """
    flags: list[str] = []
    score = 1.0
    if not text.split():
        return 0.0, ["empty_text_layer"]
    ratio = cid_ratio(raw)
    if ratio > 0.1:
        flags.append("unmapped_glyphs")
    elif ratio > 0:
        flags.append("cid_glyphs")
    score -= ratio
    if looks_like_mojibake(text):
        flags.append("mojibake")
        score -= 0.3
    visible = [ch for ch in text[:50000] if not ch.isspace()]
    if visible:
        bad = sum(ch == "\ufffd" for ch in visible) / len(visible)
        if bad > 0.005:
            flags.append("replacement_characters")
            score -= min(0.5, bad * 10)
        letters = sum(ch.isalpha() for ch in visible) / len(visible)
        if letters < 0.5:
            flags.append("low_letter_ratio")
            score -= 0.5 - letters
    return round(max(0.0, min(1.0, score)), 3), flags


CONTACT_RE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|\(?\+?\d[\d ()-]{7,}\d|\b(?:tel|telephone|phone|e-?mail|fax)\b\.?:?", re.I)


def normalise_publisher(name: str | None) -> str | None:
    """An organisation name as metadata gives it, tidied: contact details (e-mail addresses,
    URLs, phone numbers) removed, whitespace collapsed, stray punctuation trimmed
    ("Ofsted. enquiries@ofsted.gov.uk" -> "Ofsted"). None when nothing is left."""
    if not name:
        return None
    cleaned = " ".join(CONTACT_RE.sub(" ", name).split()).strip(" .,;:-|/")
    return cleaned or None
