"""A loopback static site server for tests and the demo (standard library only).

Serves any folder over HTTP/1.0 (``http.server.ThreadingHTTPServer``) and adds three
documents generated at request time from the folder listing, with the real port:

* ``/robots.txt`` - ``User-agent: *``, one ``Disallow:`` line per disallowed prefix and
  ``Sitemap: <base>/sitemap.xml``.
* ``/sitemap.xml`` - a sitemaps.org ``urlset`` with ``<loc>`` and ``<lastmod>`` (file
  mtime, W3C datetime in UTC) for every ``.html``/``.pdf`` file not disallowed.
* ``/feed.xml`` - an Atom 1.0 feed with one ``<entry>`` per such file (title = file
  stem, ``link href`` = id = its URL, ``updated`` = mtime), newest first.

These three names are always generated, even when the folder holds files of the same
name.  Static files get ``Content-Type`` from their extension (``.html`` ->
``text/html`` with no charset, ``.pdf`` -> ``application/pdf``), ``Last-Modified``
and an ``ETag`` (``"<size hex>-<mtime ns hex>"``); ``If-None-Match`` (which wins when
present) and ``If-Modified-Since`` give ``304 Not Modified``.  Disallowed paths are
still served: robots.txt is advice for crawlers, which is what the tests exercise.

Usage::

    with StaticSite(folder) as site:
        httpx.get(site.base_url + "/robots.txt")
        site.urls()          # every page/PDF URL except /private/...
        site.requests        # [(method, path, status), ...]

Command line: ``python -m demo.server ROOT [--host H] [--port P] [--build-demo]``.
"""

from __future__ import annotations

import argparse
import email.utils
import logging
import os
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit

log = logging.getLogger(__name__)

PAGE_SUFFIXES = (".html", ".pdf")
"""File suffixes (case-insensitive) listed by :meth:`StaticSite.urls`, sitemap and feed."""

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
ATOM_NS = "http://www.w3.org/2005/Atom"


def _w3c(timestamp: float) -> str:
    """POSIX seconds -> W3C datetime in UTC, e.g. ``2024-05-01T12:00:00+00:00``."""
    return datetime.fromtimestamp(int(timestamp), tz=timezone.utc).isoformat()


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its :class:`StaticSite` (``self.site``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler, site: "StaticSite") -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.site = site
        super().__init__(address, handler)


class _Handler(SimpleHTTPRequestHandler):
    """Static files with ETag support, generated robots/sitemap/feed, request log."""

    server: _Server
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html",
        ".htm": "text/html",
        ".pdf": "application/pdf",
        ".xml": "application/xml",
        ".txt": "text/plain",
        ".css": "text/css",
        ".json": "application/json",
    }

    # ---- logging: quiet, plus the request counter
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        self.server.site._record(self.command or "", self.path or "", status)
        super().log_request(code, size)

    # ---- generated documents
    def _generated(self) -> tuple[bytes, str] | None:
        path = unquote(urlsplit(self.path).path)
        site = self.server.site
        if path == "/robots.txt":
            return site.robots_txt().encode("utf-8"), "text/plain; charset=utf-8"
        if path == "/sitemap.xml":
            return site.sitemap_xml(), "application/xml"
        if path == "/feed.xml":
            return site.feed_xml(), "application/atom+xml"
        return None

    def _send_generated(self, head_only: bool) -> bool:
        generated = self._generated()
        if generated is None:
            return False
        body, content_type = generated
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)
        return True

    def do_GET(self) -> None:
        if not self._send_generated(head_only=False):
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._send_generated(head_only=True):
            super().do_HEAD()

    # ---- static files with ETag / conditional GET
    @staticmethod
    def _etag_matches(header: str, etag: str) -> bool:
        candidates = [c.strip() for c in header.split(",")]
        if "*" in candidates:
            return True
        weak = etag.removeprefix("W/")
        return any(c.removeprefix("W/") == weak for c in candidates)

    def send_head(self):  # type: ignore[override]
        path = self.translate_path(self.path)
        if os.path.isdir(path) or path.endswith("/"):
            return super().send_head()  # redirects, index.html, listings, 404s
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            stat = os.fstat(f.fileno())
            etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
            last_modified = self.date_time_string(stat.st_mtime)
            if self._not_modified(etag, stat.st_mtime):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", last_modified)
                self.end_headers()
                f.close()
                return None
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Length", str(stat.st_size))
            self.send_header("Last-Modified", last_modified)
            self.send_header("ETag", etag)
            self.end_headers()
            return f
        except BaseException:
            f.close()
            raise

    def _not_modified(self, etag: str, mtime: float) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # RFC 9110: takes precedence over If-Modified-Since
            return self._etag_matches(if_none_match, etag)
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        modified = datetime.fromtimestamp(int(mtime), tz=timezone.utc)
        return modified <= since


class StaticSite:
    """Serve a folder over HTTP on a loopback address, in a background thread.

    Args:
        root: folder to serve; must exist (``FileNotFoundError`` otherwise, raised by
            the constructor).
        host: address to bind, ``"127.0.0.1"`` by default.
        port: TCP port; ``0`` (default) picks a free one, see :attr:`base_url`.
        disallow: URL path prefixes written as ``Disallow:`` lines in ``/robots.txt``
            and left out of :meth:`urls`, the sitemap and the feed (still served).

    Use as a context manager (``__enter__`` starts the server and returns ``self``,
    ``__exit__`` shuts it down and closes the socket), or call :meth:`serve_forever`
    to serve in the foreground.  ``OSError`` is raised when the port cannot be bound.

    Attributes:
        root: the served folder (absolute).
        requests: list of ``(method, path, status)`` tuples, one per response, in
            order; ``path`` is the request target as sent (query included) and
            ``status`` an int.  Appended under a lock by the handler threads; read
            it or ``clear()`` it from tests.
    """

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        disallow: Sequence[str] = ("/private/",),
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"not a folder: {self.root}")
        self.host = host
        self.port = port
        self.disallow: tuple[str, ...] = tuple(disallow)
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle
    def _bind(self) -> _Server:
        if self._httpd is None:
            handler = partial(_Handler, directory=str(self.root))
            self._httpd = _Server((self.host, self.port), handler, self)
        return self._httpd

    def start(self) -> "StaticSite":
        """Bind and serve in a daemon thread; returns ``self``.  Idempotent."""
        httpd = self._bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"StaticSite:{httpd.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket.  Safe to call twice."""
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is None:
            return
        if thread is not None:
            httpd.shutdown()
            thread.join(timeout=5)
        httpd.server_close()

    def __enter__(self) -> "StaticSite":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (``KeyboardInterrupt`` is
        swallowed); the socket is closed on return."""
        httpd = self._bind()
        try:
            httpd.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd = None
            httpd.server_close()

    # ---- addresses and listing
    @property
    def base_url(self) -> str:
        """``"http://HOST:PORT"`` with the real bound port (no trailing slash).

        A wildcard bind (``0.0.0.0`` / ``::``) is reported as the loopback address.
        Raises ``RuntimeError`` when the server is not bound (before ``__enter__``).
        """
        if self._httpd is None:
            raise RuntimeError("StaticSite is not running; use it as a context manager")
        host, port = self._httpd.server_address[:2]
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in str(host):
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def _disallowed(self, url_path: str) -> bool:
        return any(prefix and url_path.startswith(prefix) for prefix in self.disallow)

    def _files(self) -> list[tuple[str, Path]]:
        """``(url_path, file)`` for every listed file, sorted by URL path; ``url_path``
        is percent-encoded (``/a%20%26%20b.html``)."""
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith(".") or not name.lower().endswith(PAGE_SUFFIXES):
                    continue
                file = Path(dirpath) / name
                relative = file.relative_to(self.root).as_posix()
                if self._disallowed("/" + relative):
                    continue
                found.append(("/" + quote(relative, safe="/"), file))
        return sorted(found)

    def urls(self) -> list[str]:
        """Sorted absolute URLs of every ``.html``/``.pdf`` file under the root, except
        those under a disallowed prefix and hidden (dot) files and folders.  Requires a
        bound server (see :attr:`base_url`)."""
        base = self.base_url
        return sorted(base + url_path for url_path, _ in self._files())

    # ---- generated documents
    def robots_txt(self) -> str:
        """Text of ``/robots.txt`` (``\\n`` line endings)."""
        lines = ["User-agent: *"]
        lines += [f"Disallow: {prefix}" for prefix in self.disallow] or ["Disallow:"]
        lines += ["", f"Sitemap: {self.base_url}/sitemap.xml", ""]
        return "\n".join(lines)

    def sitemap_xml(self) -> bytes:
        """UTF-8 bytes of ``/sitemap.xml`` (sitemaps.org 0.9 ``urlset``)."""
        base = self.base_url
        urlset = ET.Element("urlset", xmlns=SITEMAP_NS)
        for url_path, file in self._files():
            url = ET.SubElement(urlset, "url")
            ET.SubElement(url, "loc").text = base + url_path
            ET.SubElement(url, "lastmod").text = _w3c(file.stat().st_mtime)
        return _xml_bytes(urlset)

    def feed_xml(self) -> bytes:
        """UTF-8 bytes of ``/feed.xml`` (Atom 1.0, one entry per listed file, newest
        first)."""
        base = self.base_url
        entries = [
            (file.stat().st_mtime, base + url_path, file) for url_path, file in self._files()
        ]
        entries.sort(key=lambda e: (-e[0], e[1]))
        feed = ET.Element("feed", xmlns=ATOM_NS)
        ET.SubElement(feed, "title").text = f"Files in {self.root.name or 'site'}"
        ET.SubElement(feed, "id").text = base + "/"
        ET.SubElement(feed, "updated").text = _w3c(max((e[0] for e in entries), default=0))
        ET.SubElement(feed, "link", rel="self", href=base + "/feed.xml")
        ET.SubElement(feed, "link", rel="alternate", href=base + "/")
        author = ET.SubElement(feed, "author")
        ET.SubElement(author, "name").text = "Evidence Hub static site server"
        for mtime, url, file in entries:
            entry = ET.SubElement(feed, "entry")
            ET.SubElement(entry, "title").text = file.stem
            ET.SubElement(entry, "link", href=url)
            ET.SubElement(entry, "id").text = url
            ET.SubElement(entry, "updated").text = _w3c(mtime)
        return _xml_bytes(feed)

    # ---- request log
    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))


def main(argv: list[str] | None = None) -> int:
    """``python -m demo.server ROOT [--host H] [--port P] [--build-demo]``.

    Serves ROOT in the foreground until Ctrl-C, printing the base URL first.  With
    ``--build-demo`` the fictional demo site is written into ROOT before serving
    (needs fpdf2).  Returns the exit status (0).
    """
    parser = argparse.ArgumentParser(description="Serve a folder on a loopback address.")
    parser.add_argument("root", type=Path, help="folder to serve")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port, 0 = any (8000)")
    parser.add_argument(
        "--build-demo", action="store_true", help="write the demo site into ROOT first"
    )
    args = parser.parse_args(argv)
    if args.build_demo:
        from demo.build import build_site

        build_site(args.root)
    site = StaticSite(args.root, args.host, args.port)
    site._bind()
    print(f"Serving {site.root} at {site.base_url}/ (Ctrl-C to stop)", flush=True)
    site.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
