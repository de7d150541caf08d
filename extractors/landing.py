"""Landing page + PDF fusion (issue 4, item 3).

Publishers put a report on a *landing page*: a short HTML page with the title, date, authors
and summary, linking the PDF that holds the report itself. Indexing both gives two half
documents; the hub keeps one: the PDF's text with the page's metadata, both URLs recorded.

Two pure steps: :func:`report_link` decides from the page whether it is a landing page and
which PDF it introduces; :func:`fuse_landing_page` merges the two extractions.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from lxml import etree

from core.models import ExtractedDocument, FieldProvenance
from extractors.html_tree import element_text

LANDING_MAX_WORDS = 800  # a landing page summarises; a page longer than this is a document itself
DOWNLOAD_RE = re.compile(r"\b(download|full report|read the (?:full )?report|pdf|report \(|executive summary)\b", re.I)
OUTSIDE_CONTENT = ("nav", "header", "footer", "aside")
CONTENT_LINKS = etree.XPath("//a[@href][not(" + " or ".join(f"ancestor::{tag}" for tag in OUTSIDE_CONTENT) + ")]")
"""The page's links outside ``OUTSIDE_CONTENT``, in document order."""


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+", text.lower()) if len(t) > 2}


def _is_pdf_link(href: str, anchor) -> bool:
    path = urlsplit(href).path.lower()
    return path.endswith(".pdf") or (anchor.get("type") or "").lower() == "application/pdf"


def report_link(root, page_url: str, title: str | None, main_words: int) -> str | None:
    """The PDF a landing page introduces, or None when the page is not a landing page.

    A landing page is short (fewer than ``LANDING_MAX_WORDS`` words of main text) and its
    content (links inside ``nav``, ``header``, ``footer`` and ``aside`` do not count) links a PDF:
    the only one, or the only one whose link text or file name shares at least half of its
    words with the page title or says "download" / "full report" / "PDF". A page listing several
    equally plausible PDFs (a publications index) is not a landing page.

    Args:
        root: the parsed page (an lxml element, ``extractors.html_tree.parse_html``).
        page_url: its URL (relative links resolve against it).
        title: the page's title. main_words: words in its extracted main text.
    Returns:
        The absolute URL of the report (fragment removed), or None.
    """
    if main_words >= LANDING_MAX_WORDS or not page_url.startswith(("http://", "https://")):
        return None
    candidates: dict[str, str] = {}
    for anchor in CONTENT_LINKS(root):
        href = urljoin(page_url, anchor.get("href").strip()).split("#")[0]
        if href.startswith(("http://", "https://")) and _is_pdf_link(href, anchor):
            label = " ".join(element_text(anchor).split())
            candidates[href] = f"{candidates.get(href, '')} {label}".strip()
    if len(candidates) == 1:
        return next(iter(candidates))
    title_tokens = _tokens(title or "")

    def plausible(href: str, label: str) -> bool:
        name = urlsplit(href).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        words = _tokens(f"{label} {name.replace('-', ' ').replace('_', ' ')}")
        shares_title = bool(title_tokens) and len(words & title_tokens) >= max(1, len(title_tokens) // 2)
        return shares_title or bool(DOWNLOAD_RE.search(label))

    chosen = [href for href, label in candidates.items() if plausible(href, label)]
    return chosen[0] if len(chosen) == 1 else None


def fuse_landing_page(page: ExtractedDocument, report: ExtractedDocument) -> ExtractedDocument:
    """One document from a landing page and the PDF it introduces: the report's pages, page
    count and text quality, with the page's title, authors, publisher, date, language and
    canonical URL and DOI where the page has them (the report's otherwise). Each field's provenance
    says which side it came from (``landing_page:<source>`` or ``report_pdf:<source>``)."""
    provenance: dict[str, FieldProvenance] = {}

    def pick(field: str):
        own, other = getattr(page, field), getattr(report, field)
        value, side, origin = (own, "landing_page", page) if own else (other, "report_pdf", report)
        if value and field in origin.provenance:
            found = origin.provenance[field]
            provenance[field] = FieldProvenance(source=f"{side}:{found.source}", confidence=found.confidence)
        return value

    fused = dict(
        title=pick("title"), authors=pick("authors") or [], publisher=pick("publisher"),
        published_date=pick("published_date"), language=pick("language"), canonical_url=pick("canonical_url"),
        doi=pick("doi"),
    )
    for field in ("text", "encoding"):
        if field in report.provenance:
            provenance[field] = FieldProvenance(source=f"report_pdf:{report.provenance[field].source}",
                                                confidence=report.provenance[field].confidence)
    doc_type = report.doc_type if report.doc_type != "other" else page.doc_type
    provenance["doc_type"] = FieldProvenance(source="report_pdf_then_landing_page_rules", confidence=0.5)
    return report.model_copy(update=dict(
        fused, doc_type=doc_type, provenance=provenance, report_url=None,
        quality=report.quality.model_copy(update={"flags": [*report.quality.flags, "landing_page_fused"]}),
    ))
