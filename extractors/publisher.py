"""A PDF's publisher stated in its own text, for reports whose metadata names none: a
"Published by ..." line or a "© <organisation>" notice on the first pages or the colophon at the
back. Crown copyright names no organisation and is skipped."""

from __future__ import annotations

import re

from extractors.text import normalise_publisher

_WORD = r"[A-Z][\w&'’-]*(?:\.[\w&'’-]+)*"  # a capitalised word ("U.K" inside, no full stop at the end)
_NAME = rf"({_WORD}(?:[ \t]+(?:{_WORD}|of|and|for|the|on|in|to|&)){{0,9}})"
PUBLISHED_BY_RE = re.compile(rf"(?i:\bpublished\s+by\s+(?:the\s+authority\s+of\s+)?(?:the\s+)?){_NAME}")
COPYRIGHT_RE = re.compile(  # "© X", "(c) X", "Copyright © 2023 X" (a bare "copyright" word is too loose)
    rf"(?:©|\((?i:c)\))\s*(?i:copyright\s*)?(?:\d{{4}}(?:\s*[-–]\s*\d{{2,4}})?\s*,?\s*)?(?i:the\s+)?{_NAME}")
TRAILING_RE = re.compile(r"(?:\s+(?:of|and|for|the|on|in|to|&))+$")
NOT_A_PUBLISHER = {"crown", "crown copyright", "all rights reserved", "copyright", "this", "the", "it"}


def _name(raw: str) -> str | None:
    name = TRAILING_RE.sub("", raw.strip())
    name = re.sub(r"\s+\d{4}$", "", name)  # "Nesta 2024" -> "Nesta"
    if name.casefold() in NOT_A_PUBLISHER or name.casefold().startswith("crown") or len(name) < 2:
        return None
    return normalise_publisher(name)


def publisher_in_text(first_pages: list[str], last_pages: list[str]) -> tuple[str | None, str]:
    """The publisher a report names itself: a "Published by X" statement (first pages, then the
    back pages), else a "© X" notice. Returns (name, provenance source) or (None, "")."""
    for pattern, source in ((PUBLISHED_BY_RE, "pdf_text_published_by"), (COPYRIGHT_RE, "pdf_text_copyright")):
        for text in (*first_pages, *last_pages):
            for match in pattern.finditer(text):
                name = _name(match.group(1))
                if name:
                    return name, source
    return None, ""
