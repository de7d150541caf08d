"""A fault-injecting HTTP site on 127.0.0.1 (a real server thread), for crawler tests.

Every path is one fault a crawler meets on other people's servers:

=====================  =====================================================================
path                   behaviour
=====================  =====================================================================
/robots.txt            ``robots="disallow"``: ``Disallow: /private/``; ``robots="error"``: 500
/ok/<name>.html        a good HTML page (ETag and Last-Modified; conditional GET gives 304)
/private/<name>.html   a good page that robots.txt disallows
/retry-after/<name>    429 with ``Retry-After: 1`` on the first request, then a good page
/flaky/<name>          500 on the first request, then a good page
/always-503            503 with ``Retry-After: 1``, always
/retry-after-hour      429 with ``Retry-After: 3600``
/drip                  status and headers at once (Content-Length 5026), then one body byte a second
/drip-headers          the status line and headers themselves, one byte a second
/truncated             Content-Length 10000, 200 bytes sent, connection closed
/loop/a, /loop/b       redirect to each other
/to-private            302 to http://10.0.0.1/admin (a private address)
/to-metadata           302 to http://169.254.169.254/latest/meta-data/ (cloud instance metadata)
/to-outside            302 to http://example.com/ (outside the source's allowed domains)
/pdf-as-html           a real PDF served as ``text/html``
/error.pdf             an HTML "page not found" page served with 200 as ``application/pdf``
/huge                  2 MiB body with its Content-Length
/huge-stream           an endless body without Content-Length (streamed until the client leaves)
/gone                  404
/calendar?month=Y-M    an endless calendar: each month links to the next, and to no document
/listing?page=N        3 listing pages of 2 documents each, linked by ``a[rel=next]``
/sitemap.xml           a sitemap of ``/ok/page-<i>.html`` for i < ``pages`` (default 5)
=====================  =====================================================================

Good pages, listing pages and the sitemap carry an ETag and Last-Modified and answer a matching
conditional GET with 304. ``slow_s`` delays every good page by that many seconds.

``site.log`` holds ``(path, request headers, status)`` for every request, in order.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORDS = ("partnership", "council", "health", "evidence", "housing", "evaluation", "services", "community",
         "integrated", "care", "budget", "outcomes", "families", "local", "pilot", "review")


def page_html(name: str, *, words: int = 120, links: str = "") -> bytes:
    """A plain HTML page about ``name`` with ``words`` words of distinct text."""
    seed = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    text = " ".join(WORDS[(seed >> (i % 200)) % len(WORDS)] + ("" if i % 11 else ".") for i in range(words))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Report on {name}</title>"
            f"</head><body><main><h1>Report on {name}</h1><p>{name}: {text}</p>{links}</main></body></html>").encode()


def make_pdf(title: str, words: int = 150) -> bytes:
    """A small real PDF (fpdf2) with a title and ``words`` words of text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, " ".join(WORDS[i % len(WORDS)] for i in range(words)), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


ERROR_PAGE = (b"<!DOCTYPE html><html><head><title>Page not found</title></head>"
              b"<body><h1>Page not found</h1><p>Sorry, no such file.</p></body></html>")


class FaultSite:
    """The fault-injecting site (see the module docstring). Context manager; ``base_url`` is
    ``http://127.0.0.1:<port>``. ``drip_interval`` is the pause between dripped bytes."""

    def __init__(self, *, robots: str = "disallow", drip_interval: float = 1.0, pages: int = 5, slow_s: float = 0.0):
        if robots not in ("disallow", "error"):
            raise ValueError("robots must be 'disallow' or 'error'")
        self.robots = robots
        self.drip_interval = drip_interval
        self.pages = pages
        self.slow_s = slow_s
        self.log: list[tuple[str, dict[str, str], int]] = []
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pdf: bytes | None = None
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                    pass  # the client gave up (deadline, size cap): that is the point

            def do_GET(self):
                site._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultSite":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def pdf(self) -> bytes:
        """The PDF served at /pdf-as-html (built once)."""
        if self._pdf is None:
            self._pdf = make_pdf("Pooled budgets in integrated care: an evaluation")
        return self._pdf

    def requests_for(self, path_prefix: str) -> list[tuple[str, dict[str, str], int]]:
        """Logged requests whose path starts with ``path_prefix``."""
        return [entry for entry in self.log if entry[0].startswith(path_prefix)]

    # -- serving ----------------------------------------------------------------------------
    def _record(self, handler, status: int) -> None:
        with self._lock:
            self.log.append((handler.path, dict(handler.headers), status))

    def _send(self, handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              length: int | None = None) -> None:
        self._record(handler, status)
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        if status >= 300 and status not in (304,):
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(body)

    def _page(self, handler, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        last_modified = "Mon, 06 Jan 2025 10:00:00 GMT"
        if handler.headers.get("If-None-Match") == etag or (
                "If-None-Match" not in handler.headers and handler.headers.get("If-Modified-Since") == last_modified):
            self._send(handler, 304, headers={"ETag": etag, "Last-Modified": last_modified})
            return
        self._send(handler, 200, body, {"Content-Type": content_type, "ETag": etag, "Last-Modified": last_modified})

    def _serve(self, handler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        with self._lock:
            self.hits[handler.path] += 1
            hit = self.hits[handler.path]
        if path == "/robots.txt":
            if self.robots == "error":
                self._send(handler, 500, b"internal error", {"Content-Type": "text/plain"})
            else:
                self._send(handler, 200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"})
        elif path.startswith(("/ok/", "/private/")):
            if self.slow_s:
                time.sleep(self.slow_s)
            self._page(handler, page_html(path.rsplit("/", 1)[-1].removesuffix(".html")))
        elif path == "/sitemap.xml":
            locs = "".join(f"<url><loc>{self.base_url}/ok/page-{i}.html</loc></url>" for i in range(self.pages))
            self._page(handler, ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                                 f'schemas/sitemap/0.9">{locs}</urlset>').encode(), "application/xml")
        elif path.startswith("/retry-after/"):
            if hit == 1:
                self._send(handler, 429, b"slow down", {"Retry-After": "1"})
            else:
                self._page(handler, page_html("retry " + path.rsplit("/", 1)[-1]))
        elif path.startswith("/flaky/"):
            if hit == 1:
                self._send(handler, 500, b"oops")
            else:
                self._page(handler, page_html("flaky " + path.rsplit("/", 1)[-1]))
        elif path == "/always-503":
            self._send(handler, 503, b"busy", {"Retry-After": "1"})
        elif path == "/retry-after-hour":
            self._send(handler, 429, b"come back in an hour", {"Retry-After": "3600"})
        elif path == "/drip":
            self._drip_body(handler, page_html("drip").ljust(5026, b" ")[:5026])
        elif path == "/drip-headers":
            self._record(handler, 200)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"x" * 5000:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(self.drip_interval)
        elif path == "/truncated":
            self._send(handler, 200, page_html("truncated")[:200], {"Content-Type": "text/html"}, length=10000)
            handler.close_connection = True
        elif path in ("/loop/a", "/loop/b"):
            self._send(handler, 302, headers={"Location": "/loop/b" if path == "/loop/a" else "/loop/a"})
        elif path == "/to-private":
            self._send(handler, 302, headers={"Location": "http://10.0.0.1/admin"})
        elif path == "/to-metadata":
            self._send(handler, 302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/to-outside":
            self._send(handler, 302, headers={"Location": "http://example.com/"})
        elif path == "/pdf-as-html":
            self._page(handler, self.pdf, "text/html")
        elif path == "/error.pdf":
            self._send(handler, 200, ERROR_PAGE, {"Content-Type": "application/pdf"})
        elif path == "/huge":
            self._send(handler, 200, b"x" * (2 * 1024 * 1024), {"Content-Type": "text/html"})
        elif path == "/huge-stream":
            self._stream_forever(handler)
        elif path == "/calendar":
            self._calendar(handler, parse_qs(parts.query).get("month", ["2024-01"])[0])
        elif path == "/listing":
            self._listing(handler, int(parse_qs(parts.query).get("page", ["1"])[0]))
        else:
            self._send(handler, 404, b"not found", {"Content-Type": "text/plain"})

    def _drip_body(self, handler, body: bytes) -> None:
        self._record(handler, 200)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(self.drip_interval)

    def _stream_forever(self, handler) -> None:
        self._record(handler, 200)
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")  # no Content-Length: the body ends when the connection does
        handler.end_headers()
        chunk = b"<p>" + b"y" * 65536 + b"</p>"
        for _ in range(100_000):  # about 6.5 GB: far beyond any cap
            handler.wfile.write(chunk)

    def _calendar(self, handler, month: str) -> None:
        year, number = (int(x) for x in month.split("-"))
        following = f"{year + number // 12}-{number % 12 + 1:02d}"
        body = (f"<html><head><title>Events {month}</title></head><body><h1>Events in {month}</h1>"
                f"<p>No events this month.</p><a class=\"next\" href=\"/calendar?month={following}\">next month</a>"
                f"</body></html>").encode()
        self._send(handler, 200, body, {"Content-Type": "text/html"})

    def _listing(self, handler, page: int) -> None:
        items = "".join(f'<li><a class="doc" href="/ok/listed-{page}-{i}.html">Listed {page}-{i}</a></li>'
                        for i in (1, 2))
        following = f'<a rel="next" href="/listing?page={page + 1}&amp;utm_source=nav">next</a>' if page < 3 else ""
        body = f"<html><body><ul>{items}</ul>{following}</body></html>".encode()
        self._page(handler, body)
