"""URL canonicalisation: one spelling per document, so the same page is never indexed twice."""

from __future__ import annotations

from urllib.parse import urlsplit

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
