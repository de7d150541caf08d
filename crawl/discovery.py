"""Discovery: turn a source (sitemap, feed, URL list, local folder) into candidate URLs.

Sitemaps are parsed with lxml (namespace-agnostic; sitemap indexes followed; gzip decided by
content, not by file name); feeds with feedparser (relative links resolved against the final
URL after redirects). Local folders yield ``file:`` URLs for PDF and HTML files.
"""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin

import feedparser
from lxml import etree

from config.sources import Source
from core.models import DiscoveredURL, FetchResult
from crawl.urls import canonical_url

DOCUMENT_SUFFIXES = {".pdf", ".html", ".htm", ".xhtml"}
MAX_SITEMAP_DEPTH = 4
MAX_GZIP_LAYERS = 3
MAX_DECOMPRESSED = 200_000_000

Fetch = Callable[[str], FetchResult]


class DiscoveryError(Exception):
    """Discovery of a source failed as a whole (e.g. its sitemap is not XML)."""


def gunzip_if_needed(data: bytes) -> bytes:
    """Decompress gzip layers found by magic bytes (not by file name), up to three deep."""
    for _ in range(MAX_GZIP_LAYERS):
        if data[:2] != b"\x1f\x8b":
            break
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = decompressor.decompress(data, MAX_DECOMPRESSED)
        except zlib.error as exc:
            raise DiscoveryError(f"corrupt gzip data: {exc}") from None
        if decompressor.unconsumed_tail:
            raise DiscoveryError(f"gzip data expands beyond {MAX_DECOMPRESSED} bytes")
        data = out
    return data


def _parse_w3c_datetime(text: str | None) -> datetime | None:
    """Parse a W3C datetime (ISO 8601 profile used by sitemaps); None when absent or invalid."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_sitemap(data: bytes) -> tuple[str, list[DiscoveredURL]]:
    """Parse sitemap bytes. Returns ("urlset" | "sitemapindex", entries).

    Raises DiscoveryError when the bytes are not a sitemap.
    """
    data = gunzip_if_needed(data)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data.lstrip(b"\xef\xbb\xbf \t\r\n"), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"sitemap is not XML: {exc}") from None
    if root is None:
        raise DiscoveryError("sitemap is empty or not XML")
    kind = etree.QName(root).localname.lower()
    if kind not in ("urlset", "sitemapindex"):
        raise DiscoveryError(f"not a sitemap: root element is <{etree.QName(root).localname}>")
    entries = []
    for node in root:
        if not isinstance(node.tag, str):
            continue
        loc = lastmod = None
        for child in node:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname.lower()
            if name == "loc":
                loc = (child.text or "").strip()
            elif name == "lastmod":
                lastmod = (child.text or "").strip()
        if loc:
            entries.append(DiscoveredURL(url=loc, lastmod=_parse_w3c_datetime(lastmod)))
    return kind, entries


def discover_sitemap(url: str, fetch: Fetch, *, since: datetime | None = None) -> list[DiscoveredURL]:
    """Walk a sitemap or sitemap index from ``url``; entries with lastmod before ``since`` are dropped."""
    found: list[DiscoveredURL] = []
    seen: set[str] = set()

    def walk(sitemap_url: str, depth: int) -> None:
        if sitemap_url in seen or depth > MAX_SITEMAP_DEPTH:
            return
        seen.add(sitemap_url)
        result = fetch(sitemap_url)
        kind, entries = parse_sitemap(result.content)
        for entry in entries:
            try:
                absolute = urljoin(result.final_url, entry.url)
            except ValueError:  # an unparseable <loc>: skip that entry, keep the rest
                continue
            if kind == "sitemapindex":
                walk(absolute, depth + 1)
            elif since is None or entry.lastmod is None or entry.lastmod >= since:
                found.append(entry.model_copy(update={"url": absolute}))

    walk(url, 0)
    return found


def parse_feed(data: bytes, final_url: str) -> list[DiscoveredURL]:
    """Parse RSS/Atom bytes; links are resolved against ``final_url``.

    Raises DiscoveryError when the bytes are not a feed.
    """
    parsed = feedparser.parse(data, response_headers={"content-location": final_url})
    if parsed.bozo and not parsed.entries:
        raise DiscoveryError(f"not a readable feed: {parsed.get('bozo_exception')}")
    found = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        when = datetime(*stamp[:6], tzinfo=timezone.utc) if stamp else None
        try:
            absolute = urljoin(final_url, link)
        except ValueError:  # an unparseable link: skip that item, keep the rest
            continue
        found.append(DiscoveredURL(url=absolute, lastmod=when, title=entry.get("title")))
    return found


def discover_directory(path: Path) -> list[DiscoveredURL]:
    """Every PDF/HTML file under ``path`` (recursively, sorted) as a ``file:`` URL.

    Raises DiscoveryError when the folder does not exist.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DiscoveryError(f"folder not found: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
    return [DiscoveredURL(url=p.resolve().as_uri()) for p in files]


def discover(source: Source, fetch: Fetch) -> list[DiscoveredURL]:
    """Candidate URLs of ``source``, canonicalised, de-duplicated, in discovery order.

    Raises DiscoveryError (or the fetcher's FetchError) when the source cannot be read at all.
    """
    if source.kind == "sitemap":
        raw = discover_sitemap(source.url, fetch)
    elif source.kind == "feed":
        result = fetch(source.url)
        raw = parse_feed(result.content, result.final_url)
    elif source.kind == "urls":
        raw = [DiscoveredURL(url=u) for u in source.urls]
    else:
        raw = discover_directory(source.path)
    unique: dict[str, DiscoveredURL] = {}
    for item in raw:
        try:
            key = canonical_url(item.url)
        except ValueError:
            continue
        unique.setdefault(key, item.model_copy(update={"url": key}))
    return list(unique.values())
