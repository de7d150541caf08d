"""Discovery: turn a source (sitemap, feed, listing page, URL list, local folder) into candidate URLs.

Sitemaps are parsed with lxml (namespace-agnostic, so the legacy Google namespaces work; sitemap
indexes followed; a robots.txt URL stands for the sitemaps it lists; gzip decided by the bytes,
not by file name or header); feeds with feedparser (relative links resolved against the final URL
after redirects; dates re-parsed strictly, see :mod:`crawl.dates`); listing pages with
BeautifulSoup CSS selectors (next page, sub-listings, limits and trap checks). Local folders
yield ``file:`` URLs for PDF and HTML files; a jsonl file yields its records (:mod:`crawl.jsonl`),
each a ``file:`` URL with the record id as fragment, carrying its text.

A problem with one part of a source (a sitemap child that cannot be fetched or decoded, a
listing page that fails, a crawler trap) is reported as a :class:`DiscoveryIssue` naming that URL
and the rest is still discovered; only a source whose entry point cannot be read raises.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin, urlsplit

import feedparser
from bs4 import BeautifulSoup
from lxml import etree
from protego import Protego
from pydantic import Field
from w3lib.encoding import html_to_unicode

from config.sources import ListingRules, Source
from core.models import DiscoveredURL, FetchResult
from crawl.dates import parse_date_strictly
from crawl.urls import canonical_url

DOCUMENT_SUFFIXES = {".pdf", ".html", ".htm", ".xhtml"}
MAX_SITEMAP_DEPTH = 4
MAX_GZIP_LAYERS = 3
MAX_DECOMPRESSED = 50 * 1024 * 1024  # the sitemap protocol's limit for one uncompressed sitemap

Fetch = Callable[[str], FetchResult]


class DiscoveryError(Exception):
    """Discovery of a source failed as a whole (e.g. its sitemap is not XML)."""


@dataclass(frozen=True)
class DiscoveryIssue:
    """A part of a source that could not be read (or was not read on purpose), and why."""

    url: str
    reason: str


class Discovered(DiscoveredURL):
    """A discovered URL with the raw date text it came with and how that date was read
    (``date_flags``: ``tz_assumed``, ``time_assumed``, ``unparsed``; see :mod:`crawl.dates`)."""

    date_raw: str | None = None
    date_flags: list[str] = Field(default_factory=list)


def _dated(url: str, raw_date: str | None, **extra) -> Discovered:
    parsed = parse_date_strictly(raw_date)
    return Discovered(url=url, lastmod=parsed.value if parsed else None, date_raw=raw_date,
                      date_flags=list(parsed.flags) if parsed else [], **extra)


def gunzip_if_needed(data: bytes) -> bytes:
    """Decompress gzip layers found by magic bytes (not by file name), up to three deep, each
    capped at the sitemap protocol's 50 MiB.

    Raises DiscoveryError for corrupt gzip data or data that expands beyond the cap.
    """
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


def parse_sitemap(data: bytes) -> tuple[str, list[Discovered]]:
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
            entries.append(_dated(loc, lastmod))
    return kind, entries


def _is_robots_url(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


def discover_sitemap(url: str, fetch: Fetch, *, since=None, issues: list[DiscoveryIssue] | None = None,
                     ) -> list[Discovered]:
    """Walk a sitemap or sitemap index from ``url``; entries with lastmod before ``since`` are
    dropped. ``url`` may be a robots.txt: its ``Sitemap:`` lines are walked.

    A child sitemap that cannot be fetched or parsed is added to ``issues`` with its URL and the
    rest is walked. Raises DiscoveryError (or the fetcher's error) when ``url`` itself fails.
    """
    found: list[Discovered] = []
    seen: set[str] = set()
    issues = issues if issues is not None else []

    def walk(sitemap_url: str, depth: int) -> None:
        if sitemap_url in seen:
            return
        if depth > MAX_SITEMAP_DEPTH:
            issues.append(DiscoveryIssue(sitemap_url, f"sitemap nested deeper than {MAX_SITEMAP_DEPTH} levels; "
                                                      "not read"))
            return
        seen.add(sitemap_url)
        try:
            result = fetch(sitemap_url)
            kind, entries = parse_sitemap(result.content)
        except Exception as exc:  # noqa: BLE001 - a child's problem is recorded, the rest is walked
            if depth == 0:
                raise
            issues.append(DiscoveryIssue(sitemap_url, f"sitemap not read: {getattr(exc, 'reason', None) or exc}"))
            return
        for entry in entries:
            try:
                absolute = urljoin(result.final_url, entry.url)
            except ValueError:  # an unparseable <loc>: skip that entry, keep the rest
                issues.append(DiscoveryIssue(sitemap_url, f"unparseable <loc> {entry.url!r} skipped"))
                continue
            if kind == "sitemapindex":
                walk(absolute, depth + 1)
            elif since is None or entry.lastmod is None or entry.lastmod >= since:
                found.append(entry.model_copy(update={"url": absolute}))

    if _is_robots_url(url):
        result = fetch(url)
        listed = Protego.parse(result.content.decode("utf-8-sig", errors="replace")).sitemaps
        if not listed:
            raise DiscoveryError(f"{url} lists no Sitemap: lines")
        for sitemap_url in listed:
            try:
                sitemap_url = urljoin(result.final_url, sitemap_url)
                walk(sitemap_url, 0)
            except Exception as exc:  # noqa: BLE001 - one listed sitemap failing leaves the others
                issues.append(DiscoveryIssue(sitemap_url, f"sitemap not read: {getattr(exc, 'reason', None) or exc}"))
        return found
    walk(url, 0)
    return found


def parse_feed(data: bytes, final_url: str) -> list[Discovered]:
    """Parse RSS/Atom bytes; links are resolved against ``final_url``.

    Dates come from the raw ``published``/``updated`` text, parsed strictly (feedparser's own
    ``*_parsed`` values can be wrong); the raw text is kept in ``date_raw``.
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
        try:
            absolute = urljoin(final_url, link)
        except ValueError:  # an unparseable link: skip that item, keep the rest
            continue
        raw_date = entry.get("published") or entry.get("updated")
        found.append(_dated(absolute, raw_date, title=entry.get("title")))
    return found


def _links(soup: BeautifulSoup, selector: str | None, base: str) -> list[str]:
    """Absolute URLs of the ``href`` of elements matching ``selector`` (or of their first ``a``)."""
    if not selector:
        return []
    out = []
    for element in soup.select(selector):
        if not element.has_attr("href"):
            element = element.find("a", href=True)
            if element is None:
                continue
        href = element["href"].strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        try:
            out.append(urljoin(base, href))
        except ValueError:
            continue
    return out


def discover_listing(url: str, rules: ListingRules, fetch: Fetch, *, allow_host: Callable[[str], bool],
                     issues: list[DiscoveryIssue] | None = None) -> list[Discovered]:
    """Read listing pages from ``url``: document links, next pages and sub-listings (see
    :class:`config.sources.ListingRules`). Links outside ``allow_host`` are dropped.

    Stopping early for a limit or a trap, and any listing page after the first that fails, are
    added to ``issues``. Raises the fetcher's error when the first page cannot be read.
    """
    issues = issues if issues is not None else []
    found: dict[str, Discovered] = {}
    queue: deque[tuple[str, int]] = deque([(canonical_url(url), 0)])
    queued = {queue[0][0]}
    page_hashes: set[str] = set()
    pages = empty_run = 0
    while queue:
        page_url, depth = queue.popleft()
        if pages >= rules.max_pages:
            issues.append(DiscoveryIssue(page_url, f"listing stopped at max_pages={rules.max_pages}: "
                                                   f"{len(queue) + 1} more listing page(s) not read"))
            break
        try:
            result = fetch(page_url)
        except Exception as exc:  # noqa: BLE001 - a later page's failure is recorded, the rest goes on
            if pages == 0:
                raise
            issues.append(DiscoveryIssue(page_url, f"listing page not read: {getattr(exc, 'reason', None) or exc}"))
            continue
        pages += 1
        digest = hashlib.sha256(result.content).hexdigest()
        if digest in page_hashes:
            issues.append(DiscoveryIssue(page_url, "listing page repeats an earlier page's content under another "
                                                   "URL (crawler trap?); not followed"))
            continue
        page_hashes.add(digest)
        _, text = html_to_unicode(result.content_type or None, result.content)
        soup = BeautifulSoup(text, "lxml")
        base_tag = soup.find("base", href=True)
        base = urljoin(result.final_url, base_tag["href"]) if base_tag else result.final_url

        def keep(link: str) -> str | None:
            try:
                link = canonical_url(link)
            except ValueError:
                return None
            parts = urlsplit(link)
            if parts.scheme not in ("http", "https") or not allow_host(parts.hostname or ""):
                return None
            return link

        new = 0
        for link in filter(None, map(keep, _links(soup, rules.link_selector, base))):
            if link not in found:
                found[link] = Discovered(url=link)
                new += 1
        empty_run = 0 if new else empty_run + 1
        following = [(link, depth) for link in filter(None, map(keep, _links(soup, rules.next_selector, base)[:1]))]
        if depth < rules.max_depth:
            following += [(link, depth + 1) for link in filter(None, map(keep, _links(soup, rules.follow_selector,
                                                                                      base)))]
        if empty_run >= rules.max_empty_pages:
            more = [link for link, _ in following if link not in queued]
            if more or queue:
                issues.append(DiscoveryIssue(page_url, f"listing stopped: {empty_run} listing pages in a row gave no "
                                                       "new document link (a crawler trap such as an endless "
                                                       "calendar?)"))
                break
        for link, level in following:
            if link not in queued:
                queued.add(link)
                # next pages first (depth-first along the pagination), sub-listings after
                (queue.appendleft if level == depth else queue.append)((link, level))
    return list(found.values())


def discover_directory(path: Path) -> list[DiscoveredURL]:
    """Every PDF/HTML file under ``path`` (recursively, sorted) as a ``file:`` URL.

    Raises DiscoveryError when the folder does not exist.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DiscoveryError(f"folder not found: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
    return [DiscoveredURL(url=p.resolve().as_uri()) for p in files]


def discover_jsonl(source: Source, issues: list[DiscoveryIssue]) -> list[DiscoveredURL]:
    """The records of a jsonl source (:class:`crawl.jsonl.JsonlRecord`, in file order; their
    ``file:`` URLs are canonical as they are). Each bad line is added to ``issues`` as the file's
    URL and ``line N: reason``. Raises DiscoveryError when the file cannot be read."""
    from crawl.jsonl import JsonlError, LineProblem, read_records

    problems: list[LineProblem] = []
    try:
        records = read_records(source.path, source.fields, problems)
    except JsonlError as exc:
        raise DiscoveryError(str(exc)) from None
    where = Path(source.path).expanduser().resolve().as_uri()
    issues.extend(DiscoveryIssue(where, f"line {p.line}: {p.reason}") for p in problems)
    return list(records)


def discover(source: Source, fetch: Fetch, issues: list[DiscoveryIssue] | None = None) -> list[DiscoveredURL]:
    """Candidate URLs of ``source``, canonicalised, de-duplicated, in discovery order.

    Parts of the source that could not be read are appended to ``issues`` when given.
    Raises DiscoveryError (or the fetcher's FetchError) when the source cannot be read at all.
    """
    issues = issues if issues is not None else []
    if source.kind == "sitemap":
        raw = discover_sitemap(source.url, fetch, issues=issues)
    elif source.kind == "feed":
        result = fetch(source.url)
        raw = parse_feed(result.content, result.final_url)
    elif source.kind == "listing":
        raw = discover_listing(source.url, source.listing, fetch, allow_host=source.allows_host, issues=issues)
    elif source.kind == "urls":
        raw = [DiscoveredURL(url=u) for u in source.urls]
    elif source.kind == "jsonl":
        return discover_jsonl(source, issues)
    else:
        raw = discover_directory(source.path)
    unique: dict[str, DiscoveredURL] = {}
    for item in raw:
        try:
            key = canonical_url(item.url)
        except ValueError:
            issues.append(DiscoveryIssue(item.url, "not a URL; skipped"))
            continue
        unique.setdefault(key, item.model_copy(update={"url": key}))
    return list(unique.values())
