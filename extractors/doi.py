"""Digital Object Identifiers (DOI, ISO 26324; syntax per the DOI Handbook, section 2.2):
``10.<registrant>/<suffix>``, found in metadata or on a document's first page and normalised."""

from __future__ import annotations

import re

# Crossref's recommended pattern for modern DOIs (https://www.crossref.org/blog/dois-and-matching-regular-expressions/)
DOI_RE = re.compile(r"10\.\d{4,9}/[-._;()/:a-z0-9<>]+", re.I)
PREFIX_RE = re.compile(r"^\s*(?:doi\s*:?\s*|https?://(?:dx\.)?doi\.org/|info:doi/)", re.I)
CUE_RE = re.compile(r"(?:\bdoi\s*:?\s*|https?://(?:dx\.)?doi\.org/)(10\.\d{4,9}/\S+)", re.I)


def normalise_doi(value: str | None) -> str | None:
    """A DOI without its ``doi:`` / ``https://doi.org/`` prefix and trailing punctuation
    ("https://doi.org/10.1136/bmj.m1.", -> "10.1136/bmj.m1"); None when ``value`` holds none."""
    if not value:
        return None
    match = DOI_RE.search(PREFIX_RE.sub("", value.strip()))
    if not match:
        return None
    doi = match.group(0).rstrip(".,;:")
    while doi.endswith(")") and doi.count(")") > doi.count("("):
        doi = doi[:-1]
    return doi


def doi_in_text(text: str, *, max_lines: int = 60) -> str | None:
    """The DOI a first page states as its own: one introduced by ``doi:`` / ``DOI`` or written as a
    ``doi.org`` link within the first ``max_lines`` lines (a bare 10.x/... string in a reference
    list is not taken)."""
    head = "\n".join(text.split("\n")[:max_lines])
    match = CUE_RE.search(head)
    return normalise_doi(match.group(1)) if match else None
