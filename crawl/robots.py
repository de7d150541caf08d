"""robots.txt per host, parsed by Protego and cached (RFC 9309 semantics).

Answers are cached in memory for the run; with :meth:`RobotsPolicy.persist_in` a 2xx or 4xx
answer is also stored (in the registry) and reused by later runs for up to 24 hours, as RFC 9309
section 2.4 allows. A 5xx or unreachable answer (disallow all) is never stored: the next run asks
again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol
from urllib.parse import urlsplit

from protego import Protego

from core.models import utcnow

ROBOTS_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class RobotsAnswer:
    """Fetched robots.txt outcome: HTTP status (0 when unreachable) and body text."""

    status: int
    text: str
    error: str = ""


class RobotsStore(Protocol):
    """Where robots.txt answers outlive a run (the registry implements it)."""

    def robots_get(self, origin: str) -> tuple[int, str, datetime] | None:
        """The stored (status, body, fetched at) of ``origin``, or None."""

    def robots_put(self, origin: str, status: int, body: str) -> None:
        """Store the answer of ``origin``."""


class RobotsPolicy:
    """Answers ``can_fetch(url)`` and ``crawl_delay(host)`` for a user agent.

    RFC 9309: a 4xx robots.txt means allow all; 5xx or unreachable means disallow all. A 429
    ("too many requests") is read as the server being unavailable (disallow all), as Google does:
    it is a request to slow down, not a sign that the site has no robots.txt.
    ``fetch_robots`` is called once per scheme+host and must return a :class:`RobotsAnswer`.
    """

    def __init__(self, user_agent: str, fetch_robots: Callable[[str], RobotsAnswer]):
        self.user_agent = user_agent
        self._fetch = fetch_robots
        self._cache: dict[str, tuple[str, Protego | None]] = {}
        self._lock = threading.Lock()
        self._store: RobotsStore | None = None
        self._max_age = ROBOTS_MAX_AGE
        self.fetched: list[str] = []  # origins whose robots.txt was requested by this policy

    def persist_in(self, store: RobotsStore, max_age: timedelta = ROBOTS_MAX_AGE) -> None:
        """Keep 2xx/4xx answers in ``store`` and reuse them for ``max_age`` (at most 24 h by RFC 9309)."""
        self._store = store
        self._max_age = min(max_age, ROBOTS_MAX_AGE)

    def _answer(self, origin: str) -> RobotsAnswer:
        if self._store is not None:
            stored = self._store.robots_get(origin)
            if stored is not None and utcnow() - stored[2] < self._max_age:
                return RobotsAnswer(stored[0], stored[1])
        answer = self._fetch(origin + "/robots.txt")
        self.fetched.append(origin)
        if self._store is not None and 200 <= answer.status < 500 and answer.status != 429:
            self._store.robots_put(origin, answer.status, answer.text)
        return answer

    def _policy(self, url: str) -> tuple[str, Protego | None]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if origin in self._cache:
                return self._cache[origin]
        answer = self._answer(origin)
        if 200 <= answer.status < 300:
            entry = ("parsed", Protego.parse(answer.text.lstrip("\ufeff")))
        elif 400 <= answer.status < 500 and answer.status != 429:
            entry = ("allow_all", None)
        else:
            reason = answer.error or (f"HTTP {answer.status}" if answer.status else "no answer")
            entry = (f"disallow_all:{reason}", None)
        with self._lock:
            self._cache[origin] = entry
        return entry

    def can_fetch(self, url: str) -> tuple[bool, str]:
        """(allowed, reason). ``file:`` URLs are always allowed."""
        if url.startswith("file:"):
            return True, ""
        state, parser = self._policy(url)
        if state == "allow_all":
            return True, ""
        if state.startswith("disallow_all:"):
            detail = state.split(":", 1)[1]
            return False, f"robots.txt unreachable or server error ({detail}); RFC 9309: disallow all"
        if parser.can_fetch(url, self.user_agent):
            return True, ""
        return False, "disallowed by robots.txt"

    def crawl_delay(self, url: str) -> float | None:
        """Crawl-delay in seconds for the host of ``url``, if robots.txt sets one."""
        state, parser = self._policy(url)
        if parser is None:
            return None
        delay = parser.crawl_delay(self.user_agent)
        return float(delay) if delay is not None else None

    def sitemaps(self, url: str) -> list[str]:
        """Sitemap URLs listed in the host's robots.txt."""
        state, parser = self._policy(url)
        return list(parser.sitemaps) if parser is not None else []
