"""HTTP fetching: politeness per host, retries with back-off, conditional GET, size and time caps.

Redirects are followed one hop at a time so each hop's scheme, host and address are checked
against the source's allowed domains and the private-address policy. The address check is made
twice: on the host name before a request (a clear refusal, nothing sent) and on the address the
socket actually connected to (so a DNS answer that changes between the two cannot slip through).
A total deadline bounds each fetch, headers and body included: every socket read and write gets
at most the time left, so a server that drips one byte a second cannot hold a worker.
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

import httpcore
import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from config.settings import FetchSettings
from core.models import FetchResult, utcnow
from crawl.politeness import HostBackingOff, HostPoliteness, HostStats
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


class Fetched(FetchResult):
    """A :class:`FetchResult` plus what the response said about the document's canonical URL
    (an HTTP ``Link: <...>; rel="canonical"`` header, resolved against the final URL)."""

    canonical: str | None = None


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


def _link_canonical(response: httpx.Response, base: str) -> str | None:
    """The target of an HTTP ``Link`` header with ``rel=canonical`` (httpx parses the header)."""
    if "link" not in response.headers:
        return None
    try:
        links = response.links
    except Exception:  # noqa: BLE001 - a malformed Link header is ignored, not fatal
        return None
    target = (links.get("canonical") or {}).get("url")
    if not target:
        return None
    try:
        return urljoin(base, target)
    except ValueError:
        return None


def authority(url: str) -> str:
    """``host[:port]`` of an http(s) URL, lower-cased: the unit of politeness and back-off."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


class AddressPolicy:
    """Refuses hosts that resolve to private, loopback, link-local or reserved addresses,
    unless the address is inside one of ``allow_networks`` (CIDR strings)."""

    def __init__(self, allow_networks: list[str]):
        self.allowed = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        self._verdicts: dict[str, bool] = {}  # address -> refused (few distinct addresses per run)
        self._literals: dict[str, str | None] = {}  # host -> its IP address when it is an IP literal

    def refusal(self, address: str, host: str) -> str | None:
        """Why connecting to ``address`` (for ``host``) is refused, or None when it is allowed."""
        refused = self._verdicts.get(address)
        if refused is None:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            # not is_global covers private, loopback, link-local, reserved, shared (100.64/10, where
            # some clouds serve instance metadata) and documentation ranges
            special = not ip.is_global or ip.is_multicast
            refused = self._verdicts[address] = special and not any(ip in net for net in self.allowed)
        if refused:
            return (f"refused: {host} resolves to non-public address {address.split('%', 1)[0]}; "
                    "allow it with fetch.allow_networks or EVIDENCE_HUB_ALLOW_NETWORKS")
        return None

    def resolve(self, host: str, port: int | None = None) -> list[str]:
        """The addresses of ``host`` (an IP literal is its own address), every one of them allowed.

        Raises:
            FetchError: the host does not resolve, or one of its addresses is refused.
        """
        literal = self.literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise FetchError(f"cannot resolve host {host!r}: {exc.strerror}", retryable=True) from None
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            reason = self.refusal(address, host)
            if reason:
                raise FetchError(reason)
        return addresses

    def literal(self, host: str) -> str | None:
        """``host`` as a normalised IP address when it is an IP literal, else None."""
        if host not in self._literals:
            try:
                self._literals[host] = str(ipaddress.ip_address(host.strip("[]")))
            except ValueError:
                self._literals[host] = None
        return self._literals[host]

    def check(self, host: str) -> None:
        """Raise FetchError when ``host`` resolves to a refused address or does not resolve."""
        self.resolve(host)

    def check_literal(self, host: str) -> None:
        """Raise FetchError when ``host`` is an IP literal that is refused (no DNS lookup: a host
        name is checked when the connection is made, on the address it connects to)."""
        address = self.literal(host)
        reason = self.refusal(address, host) if address is not None else None
        if reason:
            raise FetchError(reason)


class _Deadline(threading.local):
    """The monotonic deadline of the request running in this thread (None outside requests)."""

    at: float | None = None

    def clamp(self, timeout: float | None) -> float | None:
        """``timeout`` cut to the time left before the deadline; raises ReadTimeout once it passed."""
        if self.at is None:
            return timeout
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("total deadline exceeded")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read and write is bounded by the request's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read at most ``max_bytes``, waiting no longer than the deadline allows."""
        return self._inner.read(max_bytes, self._deadline.clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write ``buffer``, waiting no longer than the deadline allows."""
        self._inner.write(buffer, self._deadline.clamp(timeout))

    def close(self) -> None:
        """Close the connection."""
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        """Upgrade to TLS (the handshake is bounded by the deadline too)."""
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.clamp(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str):
        """httpcore's connection details (``server_addr``, ``socket``, ...)."""
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend that connects only to allowed addresses and checks the address
    each socket really connected to; streams it opens honour the thread's total deadline."""

    def __init__(self, policy: AddressPolicy, deadline: _Deadline | None = None):
        self.policy = policy
        self.deadline = deadline or _Deadline()
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        """Resolve ``host``, refuse it when any address is not allowed, connect to an allowed one.

        Raises:
            FetchError: refused address; httpcore.ConnectError when no address accepts.
        """
        failure: Exception | None = None
        for address in self.policy.resolve(host, port):
            try:
                stream = self._inner.connect_tcp(address, port, self.deadline.clamp(timeout), local_address,
                                                 socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            reason = self.policy.refusal(peer[0], host) if peer else "refused: no peer address"
            if reason:
                stream.close()
                raise FetchError(reason)
            return _DeadlineStream(stream, self.deadline)
        raise failure or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        """Unix sockets are never used by the crawler."""
        raise FetchError("refused: unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retry hook)."""
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's HTTP transport over a :class:`GuardedBackend` (no proxies, no unix sockets)."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits = httpx.Limits()):
        super().__init__(limits=limits, trust_env=False)
        # httpx 0.28 builds its httpcore pool without a network_backend argument; the documented
        # httpcore pool takes one, so the transport gets its pool rebuilt with the guarded backend.
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class Fetcher:
    """Fetches URLs with the hub's politeness, safety and size/time limits.

    ``delay_for(url)`` may return a per-host delay (e.g. robots.txt Crawl-delay) that is used
    when larger than ``settings.min_delay_s``. ``per_host_concurrency`` requests may run at once
    against one host. A 429/5xx answer pauses the whole host for the back-off (Retry-After when
    the server sent one, else exponential back-off with jitter from ``backoff_initial_s`` up to
    ``backoff_max_s``); a Retry-After longer than ``max_retry_wait_s`` is not waited for: the URL
    fails with that reason and the host's other URLs are left for a later run. Thread-safe; one
    instance per run. :meth:`host_stats` gives the per-host counters and back-off state.
    """

    def __init__(self, settings: FetchSettings, delay_for: Callable[[str], float | None] | None = None, *,
                 per_host_concurrency: int = 2, max_retry_wait_s: float = 120.0,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 30.0):
        self.settings = settings
        self.addresses = AddressPolicy(settings.allow_networks)
        self.politeness = HostPoliteness(per_host_concurrency, max_wait_s=max_retry_wait_s)
        self.delay_for = delay_for
        self.max_retry_wait_s = max_retry_wait_s
        self._backoff = wait_exponential_jitter(initial=backoff_initial_s, max=backoff_max_s)
        self._deadline = _Deadline()
        # one Retrying for all calls: tenacity keeps its per-call state in thread-local storage
        self._retrying = Retrying(
            stop=stop_after_attempt(settings.retries + 1), wait=self._wait, before_sleep=self._before_retry,
            retry=retry_if_exception(lambda e: isinstance(e, FetchError) and e.retryable), reraise=True)
        limits = httpx.Limits(max_connections=max(16, settings.concurrency * per_host_concurrency),
                              max_keepalive_connections=max(8, settings.concurrency))
        self.client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout_s),
            transport=GuardedTransport(GuardedBackend(self.addresses, self._deadline), limits),
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
            allow_host: Callable[[str], bool] | None = None, allow_files: bool = False) -> Fetched:
        """GET ``url`` (http, https; ``file:`` only with ``allow_files``) with retries; conditional
        when etag/last_modified are given.

        Raises:
            FetchError: with a clear reason (HTTP status, refused host, too large, deadline, ...).
        """
        if url.startswith("file:"):
            if not allow_files:
                raise FetchError(f"refused: file: URLs are only read from directory sources ({url})")
            return self._read_file(url)
        attempts = self.settings.retries + 1
        try:
            for attempt in self._retrying:
                with attempt:
                    return self._get_once(url, etag, last_modified, allow_host)
        except FetchError as exc:
            if exc.retryable and attempts > 1:
                exc.reason = f"{exc.reason} (after {attempts} attempts)"
                exc.args = (exc.reason,)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch_robots(self, robots_url: str) -> RobotsAnswer:
        """Fetch a robots.txt (no robots check, no retry); status 0 when unreachable."""
        try:
            result = self._get_once(robots_url, None, None, None)
            return RobotsAnswer(result.status, result.content.decode("utf-8-sig", errors="replace"))
        except FetchError as exc:
            return RobotsAnswer(exc.status, "", exc.reason)

    def host_stats(self) -> dict[str, HostStats]:
        """Per-host request counters and back-off state so far (``host[:port]`` -> stats)."""
        return self.politeness.stats()

    # -- internals --------------------------------------------------------------------------
    def _wait(self, retry_state) -> float:
        """tenacity wait: Retry-After when given, else exponential back-off with jitter."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, FetchError) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(retry_state)

    def _before_retry(self, retry_state) -> None:
        """tenacity before_sleep: count the retry; after a 429/5xx pause the whole host for the
        wait, not only this URL (the server is struggling)."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        host = getattr(exc, "host", None)
        if not host:
            return
        self.politeness.count(host, retries=1)
        if exc.status == 429 or exc.status >= 500:
            self.politeness.back_off(host, retry_state.next_action.sleep, retry_after=exc.retry_after)

    def _check_target(self, url: str, allow_host: Callable[[str], bool] | None) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"refused: scheme {parts.scheme!r} is not http or https ({url})")
        host = (parts.hostname or "").lower()
        if not host:
            raise FetchError(f"refused: no host in {url}")
        if allow_host is not None and not allow_host(host):
            raise FetchError(f"refused: host {host} is outside the source's allowed domains")
        self.addresses.check_literal(host)
        return authority(url)

    def _get_once(self, url: str, etag: str | None, last_modified: str | None,
                  allow_host: Callable[[str], bool] | None) -> Fetched:
        chain = [url]
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            host = self._check_target(current, allow_host)
            try:
                target = self._request(url, current, host, etag, last_modified)
            except FetchError as exc:
                exc.host = host  # for the retry hook's per-host back-off
                raise
            if isinstance(target, Fetched):
                return target
            current = target
            if current in chain:
                raise FetchError("redirect loop: " + " -> ".join(chain + [current]))
            chain.append(current)
        raise FetchError(f"too many redirects (more than {self.settings.max_redirects}): "
                         + " -> ".join(chain))

    def _request(self, url: str, current: str, host: str, etag: str | None,
                 last_modified: str | None) -> Fetched | str:
        """One request to ``current`` (reached from ``url``); returns the result or the next URL of a redirect."""
        delay = self.settings.min_delay_s
        if self.delay_for is not None:
            delay = max(delay, self.delay_for(current) or 0.0)
        try:
            self.politeness.acquire(host, delay)
        except HostBackingOff as exc:
            raise FetchError(f"host {host} asked the crawler to back off for another {exc.seconds:.0f} s "
                             "(Retry-After); left for a later run") from None
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        limit = self.settings.timeout_s
        self._deadline.at = time.monotonic() + limit
        received = [0]
        try:
            with self.client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                if status in REDIRECTS and "location" in response.headers:
                    return urljoin(current, response.headers["location"])
                if status == 304:
                    return Fetched(url=url, final_url=current, status=304, not_modified=True,
                                   etag=response.headers.get("etag") or etag,
                                   last_modified=response.headers.get("last-modified") or last_modified)
                if status == 429 or status >= 500:
                    self.politeness.count(host, **({"throttled": 1} if status == 429 else {"server_errors": 1}))
                    retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                    if retry_after is not None and retry_after > self.max_retry_wait_s:
                        self.politeness.back_off(host, retry_after, retry_after=retry_after)
                        raise FetchError(f"HTTP {status} from {host} with Retry-After {retry_after:.0f} s, longer "
                                         f"than the {self.max_retry_wait_s:g} s a run waits; left for a later run",
                                         status=status, retry_after=retry_after)
                    raise FetchError(f"HTTP {status} from {host}", retryable=True, status=status,
                                     retry_after=retry_after)
                if status >= 400:
                    raise FetchError(f"HTTP {status}", status=status)
                body = self._read_body(response, received)
                return Fetched(
                    url=url, final_url=current, status=status, content=body,
                    content_type=response.headers.get("content-type", ""),
                    etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"),
                    canonical=_link_canonical(response, current),
                )
        except httpx.TimeoutException as exc:
            self.politeness.count(host, timeouts=1)
            if time.monotonic() >= self._deadline.at:
                raise FetchError(f"deadline of {limit:g} s exceeded ({received[0]} bytes of the body received; "
                                 "partial body discarded)") from None
            raise FetchError(f"timed out: {exc.__class__.__name__}", retryable=True) from None
        except httpx.RemoteProtocolError as exc:
            self.politeness.count(host, transport_errors=1)
            raise FetchError(f"truncated or malformed response: {exc}", retryable=True) from None
        except httpx.TransportError as exc:
            self.politeness.count(host, transport_errors=1)
            raise FetchError(f"connection failed: {exc.__class__.__name__}: {exc}", retryable=True) from None
        except httpx.HTTPError as exc:  # e.g. DecodingError: a body that is not what its headers say
            raise FetchError(f"bad response: {exc.__class__.__name__}: {exc}") from None
        except ValueError as exc:  # e.g. a redirect to an unparseable URL
            raise FetchError(f"bad URL {current!r}: {exc}") from None
        finally:
            self._deadline.at = None
            self.politeness.release(host)

    def _read_body(self, response: httpx.Response, received: list[int]) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"body of {int(declared)} bytes is over the {cap}-byte cap (not downloaded)")
        parts: list[bytes] = []
        for piece in response.iter_bytes():
            received[0] += len(piece)
            if received[0] > cap:
                raise FetchError(f"body is over the {cap}-byte cap (stopped while streaming at "
                                 f"{received[0]} bytes)")
            parts.append(piece)
        return b"".join(parts)

    def _read_file(self, url: str) -> Fetched:
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
        return Fetched(url=url, final_url=url, status=200, content=data)
