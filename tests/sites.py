"""A loopback HTTP server with fixed routes, for tests that need exact statuses and headers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """A canned response; ``body`` may contain ``{base}``-free bytes (rewrite before use)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = False  # answer 304 (no body) when If-None-Match names this route's ETag header

    def answer(self, request_headers) -> "Route":
        """The response to send: this route, or a 304 when it is conditional and the request's
        ``If-None-Match`` equals its ``ETag``."""
        etag = self.headers.get("ETag")
        if self.conditional and etag is not None and request_headers.get("If-None-Match") == etag:
            return Route(304, b"", {"ETag": etag})
        return self


class RoutedSite:
    """Serve ``routes`` (path -> Route) on 127.0.0.1; unknown paths get 404. Context manager."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.hits: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                site.hits.append((self.path, dict(self.headers)))
                route = site.routes.get(self.path, Route(404, b"not found")).answer(self.headers)
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "RoutedSite":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
