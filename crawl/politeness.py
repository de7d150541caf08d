"""Per-host politeness and back-off: minimum delay between requests, concurrency per host, and a
host-wide pause after 429/5xx answers (Retry-After honoured), with counters for the run summary.

A *host* here is the URL's authority (``host[:port]``), so two servers on one machine are two
hosts. One :class:`HostPoliteness` is shared by all worker threads of a run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from core.models import utcnow


class HostStats(BaseModel):
    """What one host did in a run: requests, answers that made the crawler back off, and the
    back-off state (how long the host was paused in all, and until when a pause still runs)."""

    requests: int = Field(0, description="HTTP requests sent (each redirect hop and retry counts)")
    retries: int = Field(0, description="Requests repeated after a retryable failure")
    throttled: int = Field(0, description="HTTP 429 answers")
    server_errors: int = Field(0, description="HTTP 5xx answers")
    timeouts: int = Field(0, description="Connect/read timeouts and total deadlines exceeded")
    transport_errors: int = Field(0, description="Connections refused, reset or truncated")
    backoff_s: float = Field(0.0, description="Seconds of back-off imposed on the host in this run")
    last_retry_after_s: float | None = Field(None, description="The last Retry-After the host sent, seconds")
    paused_until: datetime | None = Field(None, description="End of the host's back-off pause (UTC), if any")
    delay_s: float = Field(0.0, description="Politeness delay used between requests (min delay or Crawl-delay)")


class HostBackingOff(Exception):
    """The host asked for a pause longer than the fetcher is willing to wait in this run."""

    def __init__(self, host: str, seconds: float):
        super().__init__(host, seconds)
        self.host = host
        self.seconds = seconds


@dataclass
class _Host:
    next_start: float = 0.0  # monotonic time before which no request may start
    paused_until: float = 0.0  # monotonic end of a back-off pause
    slots: threading.BoundedSemaphore | None = None
    stats: HostStats = field(default_factory=HostStats)


class HostPoliteness:
    """Per-host request pacing, concurrency and back-off, shared by a run's worker threads.

    ``per_host_concurrency`` requests may run at once against one host; their starts are at
    least ``delay`` seconds apart. :meth:`back_off` pauses a whole host (every worker waits), as
    StormCrawler and Scrapy's AutoThrottle do. A pause longer than ``max_wait_s`` is not slept
    through: :meth:`acquire` raises :class:`HostBackingOff` so the URL is left for a later run.
    """

    def __init__(self, per_host_concurrency: int = 2, max_wait_s: float = 120.0):
        if per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be at least 1")
        self.per_host_concurrency = per_host_concurrency
        self.max_wait_s = max_wait_s
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(slots=threading.BoundedSemaphore(self.per_host_concurrency))
        return state

    def acquire(self, host: str, delay: float) -> None:
        """Wait for a request slot on ``host`` (pause, delay and concurrency); pair with :meth:`release`.

        Raises:
            HostBackingOff: the host is paused for longer than ``max_wait_s``.
        """
        with self._lock:
            state = self._host(host)
            state.stats.delay_s = delay
            now = time.monotonic()
            if state.paused_until - now > self.max_wait_s:
                raise HostBackingOff(host, state.paused_until - now)
        state.slots.acquire()
        try:
            with self._lock:
                now = time.monotonic()
                if state.paused_until - now > self.max_wait_s:  # paused while this thread waited for a slot
                    raise HostBackingOff(host, state.paused_until - now)
                start = max(now, state.next_start, state.paused_until)
                state.next_start = start + delay
                state.stats.requests += 1
            if start > now:
                time.sleep(start - now)
        except BaseException:
            state.slots.release()
            raise

    def release(self, host: str) -> None:
        """Give back the slot taken by :meth:`acquire`."""
        with self._lock:
            state = self._host(host)
        state.slots.release()

    def back_off(self, host: str, seconds: float, *, retry_after: float | None = None) -> None:
        """Pause every request to ``host`` for ``seconds`` from now (a longer running pause stays)."""
        with self._lock:
            state = self._host(host)
            now = time.monotonic()
            until = now + max(0.0, seconds)
            if until > state.paused_until:
                state.stats.backoff_s += until - max(now, state.paused_until)
                state.paused_until = until
                state.stats.paused_until = utcnow() + timedelta(seconds=seconds)
            if retry_after is not None:
                state.stats.last_retry_after_s = retry_after

    def count(self, host: str, **increments: int) -> None:
        """Add to the named counters of ``host`` (e.g. ``throttled=1``)."""
        with self._lock:
            stats = self._host(host).stats
            for name, value in increments.items():
                setattr(stats, name, getattr(stats, name) + value)

    def stats(self) -> dict[str, HostStats]:
        """A copy of every host's counters, keyed by ``host[:port]``, sorted by host.

        ``paused_until`` is kept only while the pause is still running."""
        with self._lock:
            now = utcnow()
            out = {}
            for host in sorted(self._hosts):
                copy = self._hosts[host].stats.model_copy()
                if copy.paused_until is not None and copy.paused_until <= now:
                    copy.paused_until = None
                out[host] = copy
            return out
