"""HTML: charset decided first (BOM > HTTP header > meta > detection), then trafilatura for the
main text and metadata, with BeautifulSoup as the explicit fallback when trafilatura finds no
main content (listing pages, app shells)."""

from __future__ import annotations

import codecs
import re
from datetime import date

import charset_normalizer
import trafilatura
from bs4 import BeautifulSoup
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

from core.models import ExtractedDocument, FieldProvenance, Page, Quality
from extractors.base import ExtractionError
from extractors.doctype import guess_doc_type
from extractors.text import detect_language, looks_like_mojibake, normalise_text

SITE_SUFFIX_RE = re.compile(r"\s+[|\-–—:·]\s+[^|\-–—:·]{2,60}$")


def decode_html(data: bytes, content_type: str = "") -> tuple[str, str, str]:
    """Decode HTML bytes. Returns (text, encoding, how) with ``how`` in bom|header|meta|detected.

    Precedence follows WHATWG: BOM, then the HTTP charset, then ``<meta>``; a declared charset
    the bytes are not valid in is ignored in favour of detection (charset-normalizer).
    """
    bom_encoding, bom = read_bom(data)
    if bom_encoding:
        return data[len(bom):].decode(bom_encoding, errors="replace"), codecs.lookup(bom_encoding).name, "bom"
    candidates = [
        (http_content_type_encoding(content_type) if content_type else None, "header"),
        (html_body_declared_encoding(data[:8192]), "meta"),
    ]
    for declared, how in candidates:
        encoding = resolve_encoding(declared) if declared else None
        if not encoding:
            continue
        try:
            return data.decode(encoding), codecs.lookup(encoding).name, how
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return data.decode("utf-8"), "utf-8", "detected"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return data.decode("cp1252", errors="replace"), "cp1252", "detected"
    return str(best), best.encoding, "detected"


def _clean_title(title: str | None, site_name: str | None) -> str | None:
    if not title:
        return None
    title = " ".join(title.split())
    if site_name and title.endswith(site_name) and len(title) > len(site_name) + 5:
        title = SITE_SUFFIX_RE.sub("", title) if SITE_SUFFIX_RE.search(title) else title
    return title or None


def _parse_iso_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def extract_html(data: bytes, *, url: str = "", content_type: str = "") -> ExtractedDocument:
    """Extract main text and metadata from an HTML page.

    Raises:
        ExtractionError: when the page has no readable text.
    """
    html, encoding, how = decode_html(data, content_type)
    provenance: dict[str, FieldProvenance] = {"encoding": FieldProvenance(source=f"charset_{how}", confidence=0.9)}
    result = trafilatura.bare_extraction(
        html, url=url or None, with_metadata=True, include_tables=True, include_comments=False,
        favor_recall=True, date_extraction_params={"extensive_search": False, "original_date": True},
    )
    soup = BeautifulSoup(html, "lxml")
    body_text = (result.text if result is not None else None) or ""
    if len(body_text.split()) < 30:
        for tag in soup(["script", "style", "noscript", "template", "svg"]):
            tag.decompose()
        fallback = soup.get_text("\n")
        if len(fallback.split()) > len(body_text.split()):
            body_text = fallback
            provenance["text"] = FieldProvenance(source="bs4_full_text", confidence=0.5)
        else:
            provenance["text"] = FieldProvenance(source="trafilatura", confidence=0.8)
    else:
        provenance["text"] = FieldProvenance(source="trafilatura", confidence=0.8)
    text = normalise_text(body_text)
    if not text:
        raise ExtractionError("HTML page has no readable text")

    site_name = result.sitename if result is not None else None
    title = _clean_title(result.title if result is not None else None, site_name)
    if title:
        provenance["title"] = FieldProvenance(source="trafilatura_metadata", confidence=0.85)
    elif soup.title and soup.title.string:
        title = _clean_title(soup.title.string, site_name)
        provenance["title"] = FieldProvenance(source="html_title", confidence=0.6)

    authors = [a.strip() for a in (result.author or "").split(";") if a.strip()] if result is not None else []
    if authors:
        provenance["authors"] = FieldProvenance(source="trafilatura_metadata", confidence=0.7)
    published = _parse_iso_date(result.date if result is not None else None)
    if published:
        provenance["published_date"] = FieldProvenance(source="htmldate", confidence=0.7)
    if site_name:
        provenance["publisher"] = FieldProvenance(source="site_name", confidence=0.7)
    canonical = result.url if result is not None and result.url and result.url.startswith("http") else None
    if canonical:
        provenance["canonical_url"] = FieldProvenance(source="link_rel_canonical_or_og_url", confidence=0.8)

    language, confidence = detect_language(text)
    if language:
        provenance["language"] = FieldProvenance(source="py3langid", confidence=round(confidence, 3))
    else:
        html_tag = soup.find("html")
        declared = (html_tag.get("lang") or "").split("-")[0].lower() if html_tag else ""
        if declared:
            language = declared
            provenance["language"] = FieldProvenance(source="html_lang", confidence=0.6)

    flags = []
    if looks_like_mojibake(text):
        flags.append("mojibake")
    quality = Quality(score=0.5 if flags else 1.0, flags=flags)
    page_type = (result.pagetype if result is not None else None) or ""
    doc_type = guess_doc_type(url=url, title=title, mime="text/html", page_type=page_type)
    provenance["doc_type"] = FieldProvenance(source="rules_url_title_pagetype", confidence=0.5)
    return ExtractedDocument(
        mime="text/html", pages=[Page(number=1, text=text)], title=title, authors=authors,
        publisher=site_name, published_date=published, language=language, canonical_url=canonical,
        doc_type=doc_type, page_count=None, provenance=provenance, quality=quality,
    )
