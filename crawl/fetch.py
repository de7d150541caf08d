"""HTTP fetching: politeness per host, retries with back-off, conditional GET, size and time caps.

Redirects are followed one hop at a time so each hop's scheme, host and address are checked
against the source's allowed domains and the private-address policy.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from config.settings import FetchSettings
from core.models import FetchResult, utcnow
from crawl.robots import RobotsAnswer

REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A fetch that failed, with a reason an operator can act on.

    ``retryable`` is True for 429, 5xx and transport errors; ``retry_after`` is the server's
    Retry-After in seconds when it sent one.
    """

    def __init__(self, reason: str, *, retryable: bool = False, retry_after: float | None = None, status: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


class AddressPolicy:
    """Refuses hosts that resolve to private, loopback, link-local or reserved addresses,
    unless the address is inside one of ``allow_networks`` (CIDR strings)."""

    def __init__(self, allow_networks: list[str]):
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allow_networks]

    def check(self, host: str) -> None:
        """Raise FetchError when ``host`` resolves to a refused address or does not resolve."""
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve host {host!r}: {exc.strerror}", retryable=True) from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            # not is_global covers private, loopback, link-local, reserved, shared (100.64/10, where
            # some clouds serve instance metadata) and documentation ranges
            special = not address.is_global or address.is_multicast
            if special and not any(address in net for net in self.allowed):
                raise FetchError(
                    f"refused: {host} resolves to non-public address {address}; "
                    "allow it with fetch.allow_networks or EVIDENCE_HUB_ALLOW_NETWORKS")


class HostThrottle:
    """Keeps at least ``delay`` seconds between the starts of requests to one host."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, delay: float) -> None:
        """Block until a request to ``host`` may start, then reserve the next slot."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + delay
        if start > now:
            time.sleep(start - now)


class Fetcher:
    """Fetches URLs with the hub's politeness, safety and size/time limits.

    ``delay_for(url)`` may return a per-host delay (e.g. robots.txt Crawl-delay) that is used
    when larger than ``settings.min_delay_s``. Thread-safe; one instance per run.
    """

    def __init__(self, settings: FetchSettings, delay_for: Callable[[str], float | None] | None = None):
        self.settings = settings
        self.addresses = AddressPolicy(settings.allow_networks)
        self.throttle = HostThrottle()
        self.delay_for = delay_for
        self.client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout_s),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public -----------------------------------------------------------------------------
    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            allow_host: Callable[[str], bool] | None = None, allow_files: bool = False) -> FetchResult:
        """GET ``url`` (http, https; ``file:`` only with ``allow_files``) with retries; conditional
        when etag/last_modified are given.

        Raises:
            FetchError: with a clear reason (HTTP status, refused host, too large, deadline, ...).
        """
        if url.startswith("file:"):
            if not allow_files:
                raise FetchError(f"refused: file: URLs are only read from directory sources ({url})")
            return self._read_file(url)
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, FetchError) and e.retryable),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._get_once(url, etag, last_modified, allow_host)
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch_robots(self, robots_url: str) -> RobotsAnswer:
        """Fetch a robots.txt (no robots check, one retry); status 0 when unreachable."""
        try:
            result = self._get_once(robots_url, None, None, None)
            return RobotsAnswer(result.status, result.content.decode("utf-8-sig", errors="replace"))
        except FetchError as exc:
            return RobotsAnswer(exc.status, "", exc.reason)

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _wait(retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, FetchError) and exc.retry_after is not None:
            return min(exc.retry_after, 120.0)
        return wait_exponential_jitter(initial=1, max=30)(retry_state)

    def _check_target(self, url: str, allow_host: Callable[[str], bool] | None) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"refused: scheme {parts.scheme!r} is not http or https ({url})")
        host = (parts.hostname or "").lower()
        if not host:
            raise FetchError(f"refused: no host in {url}")
        if allow_host is not None and not allow_host(host):
            raise FetchError(f"refused: host {host} is outside the source's allowed domains")
        self.addresses.check(host)
        return host

    def _get_once(self, url: str, etag: str | None, last_modified: str | None,
                  allow_host: Callable[[str], bool] | None) -> FetchResult:
        deadline = time.monotonic() + self.settings.timeout_s
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            host = self._check_target(current, allow_host)
            delay = self.settings.min_delay_s
            if self.delay_for is not None:
                delay = max(delay, self.delay_for(current) or 0.0)
            self.throttle.wait(host, delay)
            headers = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"deadline of {self.settings.timeout_s:g} s exceeded", retryable=True)
            try:
                with self.client.stream("GET", current, headers=headers,
                                        timeout=httpx.Timeout(remaining)) as response:
                    status = response.status_code
                    if status in REDIRECTS and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if status == 304:
                        return FetchResult(url=url, final_url=current, status=304, not_modified=True,
                                           etag=response.headers.get("etag") or etag,
                                           last_modified=response.headers.get("last-modified") or last_modified)
                    if status == 429 or status >= 500:
                        raise FetchError(f"HTTP {status} from {host}", retryable=True, status=status,
                                         retry_after=_retry_after_seconds(response.headers.get("retry-after")))
                    if status >= 400:
                        raise FetchError(f"HTTP {status}", status=status)
                    body = self._read_body(response, deadline)
                    return FetchResult(
                        url=url, final_url=current, status=status, content=body,
                        content_type=response.headers.get("content-type", ""),
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                    )
            except httpx.TimeoutException:
                raise FetchError(f"timed out (deadline {self.settings.timeout_s:g} s)", retryable=True) from None
            except httpx.TransportError as exc:
                raise FetchError(f"connection failed: {exc.__class__.__name__}: {exc}", retryable=True) from None
            except httpx.HTTPError as exc:  # e.g. DecodingError: a body that is not what its headers say
                raise FetchError(f"bad response: {exc.__class__.__name__}: {exc}") from None
            except ValueError as exc:  # e.g. a redirect to an unparseable URL
                raise FetchError(f"bad URL {current!r}: {exc}") from None
        raise FetchError(f"too many redirects (more than {self.settings.max_redirects})")

    def _read_body(self, response: httpx.Response, deadline: float) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"body of {int(declared)} bytes is over the {cap}-byte cap")
        parts: list[bytes] = []
        size = 0
        for piece in response.iter_bytes():
            size += len(piece)
            if size > cap:
                raise FetchError(f"body is over the {cap}-byte cap")
            if time.monotonic() > deadline:
                raise FetchError(f"deadline of {self.settings.timeout_s:g} s exceeded while reading the body",
                                 retryable=True)
            parts.append(piece)
        return b"".join(parts)

    def _read_file(self, url: str) -> FetchResult:
        path = Path(unquote(urlsplit(url).path))
        try:
            size = path.stat().st_size
            if size > self.settings.max_bytes:
                raise FetchError(f"file of {size} bytes is over the {self.settings.max_bytes}-byte cap")
            data = path.read_bytes()
        except FileNotFoundError:
            raise FetchError(f"file not found: {path}") from None
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror}") from None
        return FetchResult(url=url, final_url=url, status=200, content=data)
