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


def normalise_text(text: str) -> str:
    """NFKC (ligatures and compatibility characters), join end-of-line hyphenation, drop
    ``(cid:N)`` glyph codes and control characters, collapse spaces and blank lines."""
    text = CID_RE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
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
    return len(MOJIBAKE_RE.findall(text[:20000])) >= 3


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
