"""The source catalogue (``config/sources.yaml``): where evidence is crawled from."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.errors import ConfigError, describe_validation_error, read_yaml

SourceKind = Literal["sitemap", "feed", "listing", "urls", "directory", "jsonl"]


class AdaptiveRecrawl(BaseModel):
    """Bounds and rates of an adaptive re-crawl cadence (as Nutch's AdaptiveFetchSchedule).

    After a run that brought new or changed documents the interval shrinks by ``dec_rate``;
    after a run that brought nothing new it grows by ``inc_rate``; it always stays within
    ``[min_interval, max_interval]``.
    """

    model_config = ConfigDict(extra="forbid")
    min_interval: timedelta = Field(timedelta(hours=1), description="Shortest interval, ISO 8601 (PT1H)")
    max_interval: timedelta = Field(timedelta(days=7), description="Longest interval, ISO 8601 (P7D)")
    inc_rate: float = Field(0.4, gt=0, le=1, description="Growth after a run with nothing new")
    dec_rate: float = Field(0.2, gt=0, lt=1, description="Shrink after a run with new or changed documents")

    @model_validator(mode="after")
    def _ordered(self) -> "AdaptiveRecrawl":
        if self.min_interval.total_seconds() < 60:
            raise ValueError("min_interval must be at least one minute")
        if self.max_interval < self.min_interval:
            raise ValueError("max_interval must not be shorter than min_interval")
        return self


class Schedule(BaseModel):
    """When a source is crawled: exactly one of a cron expression or an interval.

    With ``adaptive`` the deployment ticks on the cron/interval, but a tick only crawls when the
    source's adaptive interval (within the bounds given) has passed since its last run.
    """

    model_config = ConfigDict(extra="forbid")
    cron: str | None = None
    interval: timedelta | None = Field(None, description="ISO 8601 duration such as P1D or PT6H")
    timezone: str = Field("UTC", description="IANA time zone of the cron expression")
    adaptive: AdaptiveRecrawl | None = Field(None, description="Adapt the cadence to how often the source publishes")

    @model_validator(mode="after")
    def _exactly_one(self) -> "Schedule":
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of 'cron' or 'interval'")
        if self.interval is not None and self.interval.total_seconds() < 60:
            raise ValueError("interval must be at least one minute")
        return self


class SourceLimits(BaseModel):
    """Per-source limits."""

    model_config = ConfigDict(extra="forbid")
    max_documents: int = Field(500, ge=1)


class ListingRules(BaseModel):
    """How to read a ``listing`` source: a site's own list of publications, page after page.

    Document links are the elements matched by ``link_selector`` (CSS, with their ``href``);
    the next page is the first match of ``next_selector``; ``follow_selector`` matches links to
    sub-listings (e.g. year archives), followed ``max_depth`` levels deep. Traps (an endless
    calendar, session-id loops) are avoided: every listing page is read once, at most
    ``max_pages`` are read, links outside the allowed domains are dropped, and reading stops
    when ``max_empty_pages`` pages in a row add no new document link or a page repeats an
    earlier one's content.
    """

    model_config = ConfigDict(extra="forbid")
    link_selector: str = Field(min_length=1, description="CSS selector of links to documents, e.g. 'h3 a'")
    next_selector: str | None = Field(None, description="CSS selector of the next-page link, e.g. 'a[rel=next]'")
    follow_selector: str | None = Field(None, description="CSS selector of links to sub-listing pages")
    max_pages: int = Field(50, ge=1, le=10_000, description="Listing pages read at most")
    max_depth: int = Field(1, ge=0, le=10, description="Levels of sub-listings followed (next pages do not count)")
    max_empty_pages: int = Field(3, ge=1, le=100, description="Stop after this many pages in a row with no new link")

    @field_validator("link_selector", "next_selector", "follow_selector")
    @classmethod
    def _valid_css(cls, value: str | None) -> str | None:
        if value is not None:
            import soupsieve

            try:
                soupsieve.compile(value)
            except soupsieve.SelectorSyntaxError as exc:
                raise ValueError(f"{value!r} is not a valid CSS selector: {str(exc).splitlines()[0]}") from None
        return value


JSONL_MAX_DOCUMENTS = 10_000_000  # a jsonl source's record cap unless its `limits` say otherwise


class JsonlFields(BaseModel):
    """Field names of a ``jsonl`` source's records (defaults: the BEIR ``corpus.jsonl`` form).

    ``id``, ``text`` are required in every record; ``title``, ``url`` (the record's own link),
    ``date`` (ISO 8601 date) and ``metadata`` (an object kept as provenance) are read when present.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field("_id", min_length=1, description="Record id field (matched by qrels corpus-id)")
    title: str = Field("title", min_length=1)
    text: str = Field("text", min_length=1)
    url: str = Field("url", min_length=1)
    date: str = Field("date", min_length=1)
    metadata: str = Field("metadata", min_length=1)


class Source(BaseModel):
    """One source: a sitemap, an RSS/Atom feed, a listing page, a list of URLs, a local folder or
    a JSON-lines file of records (``jsonl``: one ``{"_id", "title", "text"}`` object a line, read
    without fetch or extraction; see :mod:`crawl.jsonl`).

    ``allowed_domains`` are hosts whose subdomains are allowed too; when empty, the hosts of
    ``url``/``urls`` are used. Raises pydantic's ``ValidationError`` for a wrong combination
    (e.g. a feed without ``url``).
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    kind: SourceKind
    url: str | None = None
    urls: list[str] = Field(default_factory=list)
    path: Path | None = None
    listing: ListingRules | None = Field(None, description="Selectors and limits of a listing source")
    fields: JsonlFields | None = Field(None, description="Record field names of a jsonl source")
    publisher: str | None = None
    allowed_domains: list[str] = Field(default_factory=list)
    schedule: Schedule | None = None
    limits: SourceLimits = SourceLimits()
    enabled: bool = True
    description: str = ""

    @model_validator(mode="after")
    def _kind_needs(self) -> "Source":
        if self.kind in ("sitemap", "feed", "listing"):
            if not self.url:
                raise ValueError(f"a {self.kind} source needs 'url'")
            _check_http(self.url)
        if (self.kind == "listing") != (self.listing is not None):
            raise ValueError("a listing source needs 'listing' (link_selector, ...); other kinds take none")
        elif self.kind == "urls":
            if not self.urls:
                raise ValueError("a urls source needs a non-empty 'urls' list")
            for item in self.urls:
                _check_http(item)
        elif self.kind in ("directory", "jsonl") and self.path is None:
            raise ValueError(f"a {self.kind} source needs 'path'")
        if self.fields is not None and self.kind != "jsonl":
            raise ValueError("'fields' is only for a jsonl source")
        if self.kind == "jsonl" and self.fields is None:
            self.fields = JsonlFields()
        if self.kind == "jsonl" and "limits" not in self.model_fields_set:
            # the 500 cap protects crawls of websites; a file is bounded by itself
            self.limits = SourceLimits(max_documents=JSONL_MAX_DOCUMENTS)
        if not self.allowed_domains and self.kind not in ("directory", "jsonl"):
            seeds = [self.url] if self.url else self.urls
            self.allowed_domains = sorted({urlsplit(u).hostname or "" for u in seeds} - {""})
        self.allowed_domains = [d.lower().lstrip(".") for d in self.allowed_domains]
        return self

    def allows_host(self, host: str | None) -> bool:
        """True when ``host`` equals an allowed domain or is a subdomain of one."""
        if self.kind in ("directory", "jsonl"):
            return True
        host = (host or "").lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)


def _check_http(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")


class SourceCatalogue(BaseModel):
    """The whole ``sources.yaml``: a list of sources with unique names."""

    model_config = ConfigDict(extra="forbid")
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "SourceCatalogue":
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return self


def load_sources(path: Path | str) -> list[Source]:
    """Load and validate a source catalogue.

    Raises:
        ConfigError: naming the file, the entry (``sources.3.url``) and the problem.
    """
    path = Path(path)
    data = read_yaml(path)
    try:
        catalogue = SourceCatalogue.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(str(path), exc) from None
    for source in catalogue.sources:
        if source.path is not None and not source.path.is_absolute():
            source.path = (path.parent / source.path).resolve()
    return catalogue.sources
