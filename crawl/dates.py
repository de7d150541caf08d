"""Strict parsing of the dates feeds and sitemaps carry (RSS ``pubDate``, Atom ``updated``,
sitemap ``lastmod``): a parser may give up, but never returns a confidently wrong date, and the
answer never depends on today's date.

feedparser's ``published_parsed`` is not trusted (it turned ``2016/6/29 15:07:41`` into
1 November 2016, the month taken from the day of the run); the raw string is parsed again here
with the standard library's RFC 2822 parser, then dateutil's ISO 8601 parser, then dateutil's
general parser under checks that reject any date part it would have to invent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser

# Two unrelated defaults: a date part that differs between them was invented, not read.
_DEFAULTS = (datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 1))
EARLIEST_YEAR, LATEST_YEAR = 1800, 2200


@dataclass(frozen=True)
class ParsedDate:
    """A parsed date in UTC (or None) with the raw text it came from.

    ``flags``: ``tz_assumed`` (no zone in the text: read as UTC), ``time_assumed`` (no time of
    day: midnight), ``unparsed`` (the text could not be read without guessing; ``value`` is None).
    """

    raw: str
    value: datetime | None
    flags: tuple[str, ...] = field(default_factory=tuple)


def _in_range(value: datetime) -> bool:
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def _rfc2822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _iso8601(text: str) -> datetime | None:
    try:
        return dateutil_parser.isoparse(text)
    except (ValueError, OverflowError):
        return None


def _general(text: str) -> tuple[datetime | None, bool]:
    """dateutil's general parser, accepted only when the year, month and day were all read from
    the text (same answer under two defaults) and day-first and month-first readings agree.
    Returns (value, time_assumed)."""
    readings = []
    try:
        for dayfirst in (False, True):
            for default in _DEFAULTS:
                readings.append(dateutil_parser.parse(text, default=default, dayfirst=dayfirst))
    except (ValueError, OverflowError):
        return None, False
    if len({(r.year, r.month, r.day) for r in readings}) != 1:
        return None, False  # a date part was invented or the day/month order is ambiguous
    first, second = readings[0], readings[1]
    time_assumed = (first.hour, first.minute, first.second) != (second.hour, second.minute, second.second)
    if time_assumed:
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if (first.tzinfo is None) != (second.tzinfo is None):
        return None, False
    return first, time_assumed


def parse_date_strictly(raw: str | None) -> ParsedDate | None:
    """Parse a feed or sitemap date; None when ``raw`` is empty.

    The value is in UTC; when the text has no zone it is read as UTC and flagged ``tz_assumed``.
    Text that cannot be read without guessing gives ``value=None`` and the flag ``unparsed``.
    """
    if raw is None or not raw.strip():
        return None
    text = " ".join(raw.split())
    flags: list[str] = []
    value = _rfc2822(text)
    if value is None:
        value = _iso8601(text)
        if value is not None and ":" not in text:
            flags.append("time_assumed")
    if value is None:
        value, time_assumed = _general(text)
        if time_assumed:
            flags.append("time_assumed")
    if value is None or not _in_range(value):
        return ParsedDate(raw=raw, value=None, flags=("unparsed",))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
        flags.append("tz_assumed")
    return ParsedDate(raw=raw, value=value.astimezone(timezone.utc), flags=tuple(flags))
