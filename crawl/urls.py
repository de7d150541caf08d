"""URL canonicalisation: one spelling per document, so the same page is never indexed twice."""

from __future__ import annotations

from typing import Callable
from urllib.parse import urljoin, urlsplit

import courlan
from w3lib.url import canonicalize_url as _w3lib_canonicalize


def canonical_url(url: str) -> str:
    """Return the canonical form of an http(s) or file URL.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``, ... as listed by courlan), and sorts the query (w3lib).
    ``file:`` URLs are returned unchanged. Raises ValueError for an empty URL.
    """
    url = url.strip()
    if not url:
        raise ValueError("empty URL")
    if url.startswith("file:"):
        return url
    cleaned = courlan.normalize_url(url, strict=False)
    return _w3lib_canonicalize(cleaned, keep_fragments=False)


def host_of(url: str) -> str:
    """The lower-cased host name of ``url`` ('' when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def file_name_of(url: str) -> str:
    """The last path segment of a URL or path (used to match gold files by name)."""
    path = urlsplit(url).path if "://" in url else url
    return path.rstrip("/").rsplit("/", 1)[-1]


def canonical_link(content: bytes, content_type: str, base_url: str) -> str | None:
    """The ``<link rel="canonical" href>`` of an HTML page, resolved against ``base_url`` (or None).

    Only the first 64 KiB are read (the link belongs in ``<head>``); bytes that are not HTML
    (a PDF, say) give None. The charset is decided by w3lib (BOM, header, meta, default).
    """
    head = content[:65536]
    if head[:1024].find(b"%PDF-") >= 0 or b"<" not in head[:4096]:
        return None
    from lxml import html as lxml_html
    from w3lib.encoding import html_to_unicode

    _, text = html_to_unicode(content_type or None, head)
    try:
        tree = lxml_html.fromstring(text)
    except (ValueError, Exception):  # noqa: BLE001 - an unparseable page simply has no canonical link
        return None
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in rels and href:
            try:
                return urljoin(base_url, href)
            except ValueError:
                return None
    return None


def canonical_target(url: str, response, allows_host: Callable[[str], bool]) -> str | None:
    """The canonical URL a fetched response names for ``url``, canonicalised: the HTTP
    ``Link: <...>; rel="canonical"`` header first (``response.canonical``, see crawl.fetch.Fetched),
    then the HTML ``<link rel=canonical>``. None when it names none, names ``url`` itself, or
    names a URL on a host ``allows_host`` rejects (such a claim is not trusted).

    ``response`` needs ``content``, ``content_type`` and ``final_url`` (a FetchResult).
    """
    named = getattr(response, "canonical", None) or canonical_link(response.content, response.content_type,
                                                                    response.final_url)
    if not named:
        return None
    try:
        target = canonical_url(named)
    except ValueError:
        return None
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not allows_host(parts.hostname or ""):
        return None
    return None if target == url else target
