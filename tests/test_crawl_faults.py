"""The crawler against a fault-injecting site on 127.0.0.1 (tests/fault_site.py): each fault
ends as a clear outcome, fast, and the whole ingest of a faulty site finishes with every fault
recorded and counted. Fetch settings are tiny (2 s deadline, one retry, 64 KiB cap)."""

from __future__ import annotations

import socket

import httpcore
import pytest

from config.settings import FetchSettings
from config.sources import ListingRules, Source
from crawl.discovery import DiscoveryIssue, discover_listing
from crawl.fetch import AddressPolicy, Fetcher, FetchError, GuardedBackend
from crawl.robots import RobotsPolicy
from tests.fault_site import FaultSite

TINY = FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=1, timeout_s=2, max_bytes=65536,
                     max_redirects=3)


@pytest.fixture(scope="module")
def site():
    with FaultSite() as running:
        yield running


@pytest.fixture()
def fetcher():
    with Fetcher(TINY, backoff_initial_s=0.1, backoff_max_s=0.2, max_retry_wait_s=5) as running:
        yield running


def test_429_with_retry_after_is_waited_for_and_pauses_the_host(site, fetcher):
    result = fetcher.get(site.base_url + "/retry-after/a")
    assert result.status == 200 and b"Report on retry a" in result.content
    [(host, stats)] = fetcher.host_stats().items()
    assert host == site.base_url.removeprefix("http://")
    assert (stats.requests, stats.throttled, stats.retries) == (2, 1, 1)
    assert stats.last_retry_after_s == 1.0 and stats.backoff_s == pytest.approx(1.0, abs=0.05)


def test_500_then_200_is_retried(site, fetcher):
    result = fetcher.get(site.base_url + "/flaky/a")
    assert result.status == 200
    stats = fetcher.host_stats()[site.base_url.removeprefix("http://")]
    assert (stats.server_errors, stats.retries) == (1, 1)


def test_persistent_503_fails_after_the_retries_with_the_status(site, fetcher):
    with pytest.raises(FetchError) as caught:
        fetcher.get(site.base_url + "/always-503")
    assert caught.value.reason == f"HTTP 503 from {site.base_url.removeprefix('http://')} (after 2 attempts)"


def test_retry_after_longer_than_a_run_waits_is_not_slept_and_holds_the_host_back(site):
    with Fetcher(TINY, max_retry_wait_s=5) as fetcher:
        with pytest.raises(FetchError, match="Retry-After 3600 s, longer than the 5 s a run waits"):
            fetcher.get(site.base_url + "/retry-after-hour")
        with pytest.raises(FetchError, match="asked the crawler to back off for another 3[56]\\d\\d s"):
            fetcher.get(site.base_url + "/ok/later.html")
        stats = fetcher.host_stats()[site.base_url.removeprefix("http://")]
    assert stats.paused_until is not None and stats.last_retry_after_s == 3600
    assert stats.requests == 1  # the second URL was never sent


def test_body_dripped_one_byte_a_second_hits_the_total_deadline(site, fetcher):
    with pytest.raises(FetchError) as caught:
        fetcher.get(site.base_url + "/drip")
    reason = caught.value.reason
    assert reason.startswith("deadline of 2 s exceeded (") and reason.endswith("partial body discarded)")
    received = int(reason.split("(")[1].split()[0])
    assert 0 < received < 10  # a couple of bytes, not the 5026-byte body
    assert len(site.requests_for("/drip")) == 1  # a deadline is not retried within the run


def test_headers_dripped_one_byte_a_second_hit_the_total_deadline(site, fetcher):
    with pytest.raises(FetchError, match=r"^deadline of 2 s exceeded \(0 bytes"):
        fetcher.get(site.base_url + "/drip-headers")


def test_truncated_body_is_a_clear_failure(site, fetcher):
    with pytest.raises(FetchError, match="truncated or malformed response: .*received 200 bytes, expected 10000"):
        fetcher.get(site.base_url + "/truncated")


def test_redirect_loop_is_named(site, fetcher):
    with pytest.raises(FetchError) as caught:
        fetcher.get(site.base_url + "/loop/a")
    assert caught.value.reason == (f"redirect loop: {site.base_url}/loop/a -> {site.base_url}/loop/b -> "
                                   f"{site.base_url}/loop/a")


@pytest.mark.parametrize("path, address", [("/to-private", "10.0.0.1"), ("/to-metadata", "169.254.169.254")])
def test_redirect_to_a_private_address_is_refused_before_connecting(site, fetcher, path, address):
    allowed = {"127.0.0.1", address}
    with pytest.raises(FetchError) as caught:
        fetcher.get(site.base_url + path, allow_host=lambda host: host in allowed)
    assert caught.value.reason.startswith(f"refused: {address} resolves to non-public address {address}")
    assert list(fetcher.host_stats()) == [site.base_url.removeprefix("http://")]  # nothing sent to it


def test_address_is_checked_on_the_socket_actually_connected(site):
    port = int(site.base_url.rsplit(":", 1)[1])
    with pytest.raises(FetchError, match="non-public address 127.0.0.1"):
        GuardedBackend(AddressPolicy([])).connect_tcp("localhost", port)
    stream = GuardedBackend(AddressPolicy(["127.0.0.0/8", "::1/128"])).connect_tcp("localhost", port)
    try:
        assert stream.get_extra_info("server_addr")[0] in ("127.0.0.1", "::1")
    finally:
        stream.close()
    with pytest.raises(FetchError, match="unix sockets"):
        GuardedBackend(AddressPolicy([])).connect_unix_socket("/tmp/x")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    with pytest.raises(httpcore.ConnectError):
        GuardedBackend(AddressPolicy(["127.0.0.1/32"])).connect_tcp("127.0.0.1", closed_port)


def test_size_cap_declared_and_streamed(site, fetcher):
    with pytest.raises(FetchError) as declared:
        fetcher.get(site.base_url + "/huge")
    assert declared.value.reason == "body of 2097152 bytes is over the 65536-byte cap (not downloaded)"
    with pytest.raises(FetchError, match=r"body is over the 65536-byte cap \(stopped while streaming at \d+ bytes\)"):
        fetcher.get(site.base_url + "/huge-stream")


def test_wrong_content_types_reach_extraction_as_bytes(site, fetcher):
    from extractors import sniff_kind

    pdf = fetcher.get(site.base_url + "/pdf-as-html")
    assert pdf.content_type == "text/html" and sniff_kind(pdf.content, pdf.content_type, pdf.url) == "pdf"
    page = fetcher.get(site.base_url + "/error.pdf")
    assert page.content_type == "application/pdf" and sniff_kind(page.content, page.content_type, page.url) == "html"


def test_robots_disallow_and_robots_500(site, fetcher):
    policy = RobotsPolicy("bot", fetcher.fetch_robots)
    assert policy.can_fetch(site.base_url + "/private/x.html") == (False, "disallowed by robots.txt")
    assert policy.can_fetch(site.base_url + "/ok/x.html") == (True, "")
    with FaultSite(robots="error") as down:
        assert RobotsPolicy("bot", fetcher.fetch_robots).can_fetch(down.base_url + "/ok/x.html") == (
            False, "robots.txt unreachable or server error (HTTP 500 from "
                   f"{down.base_url.removeprefix('http://')}); RFC 9309: disallow all")


def test_endless_calendar_stops_as_a_trap(site, fetcher):
    issues: list[DiscoveryIssue] = []
    rules = ListingRules(link_selector="a.doc", next_selector="a.next", max_empty_pages=3)
    found = discover_listing(site.base_url + "/calendar?month=2024-01", rules, fetcher.get,
                             allow_host=lambda host: host == "127.0.0.1", issues=issues)
    assert found == []
    assert issues == [DiscoveryIssue(site.base_url + "/calendar?month=2024-03",
                                     "listing stopped: 3 listing pages in a row gave no new document link "
                                     "(a crawler trap such as an endless calendar?)")]
    assert len(site.requests_for("/calendar")) == 3


def test_calendar_without_empty_page_rule_stops_at_max_pages(site, fetcher):
    issues: list[DiscoveryIssue] = []
    rules = ListingRules(link_selector="a.next", next_selector="a.next", max_pages=5)
    found = discover_listing(site.base_url + "/calendar?month=2030-01", rules, fetcher.get,
                             allow_host=lambda host: host == "127.0.0.1", issues=issues)
    assert len(found) == 5  # each month "finds" the next month's link, so the empty-page rule never fires
    assert issues == [DiscoveryIssue(site.base_url + "/calendar?month=2030-06",
                                     "listing stopped at max_pages=5: 1 more listing page(s) not read")]


def test_listing_pages_follow_next_links(site, fetcher):
    rules = ListingRules(link_selector="li a.doc", next_selector="a[rel=next]")
    issues: list[DiscoveryIssue] = []
    found = discover_listing(site.base_url + "/listing", rules, fetcher.get,
                             allow_host=lambda host: host == "127.0.0.1", issues=issues)
    assert [f.url for f in found] == [f"{site.base_url}/ok/listed-{p}-{i}.html" for p in (1, 2, 3) for i in (1, 2)]
    assert issues == []


def test_ingest_of_the_faulty_site_finishes_and_counts_every_fault(tmp_path):
    """The acceptance test: one run over every fault; each ends as an outcome with a clear reason."""
    from config import load_settings
    from crawl.registry import Registry
    from flows.ingest import run_ingest

    settings = load_settings(home=str(tmp_path / "hub"), fetch={
        "allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0, "retries": 1, "timeout_s": 2,
        "max_bytes": 65536, "max_redirects": 3})
    with FaultSite() as site, FaultSite(robots="error") as down:
        base, host = site.base_url, site.base_url.removeprefix("http://")
        paths = ["/ok/one.html", "/retry-after/x", "/flaky/x", "/pdf-as-html", "/always-503", "/drip", "/truncated",
                 "/loop/a", "/to-private", "/to-metadata", "/to-outside", "/error.pdf", "/huge", "/huge-stream",
                 "/gone", "/private/secret.html"]
        faults = Source(name="faults", kind="urls", urls=[base + p for p in paths] + [down.base_url + "/ok/x.html"],
                        allowed_domains=["127.0.0.1", "10.0.0.1", "169.254.169.254"])
        calendar = Source(name="calendar", kind="listing", url=base + "/calendar?month=2024-01",
                          listing=ListingRules(link_selector="a.doc", next_selector="a.next"))
        listing = Source(name="listing", kind="listing", url=base + "/listing",
                         listing=ListingRules(link_selector="a.doc", next_selector="a[rel=next]"))
        summary = run_ingest([faults, calendar, listing], settings)

    assert (summary.discovered, summary.indexed, summary.skipped, summary.failed) == (23, 10, 2, 12)
    assert summary.extracted == 10 and summary.fetched == 11  # fetched: the 10 indexed and /error.pdf
    outcomes = {(f.url.removeprefix(base).removeprefix(down.base_url), f.stage): f.reason for f in summary.failures}
    assert outcomes == {
        ("/always-503", "fetch"): f"HTTP 503 from {host} (after 2 attempts)",
        ("/drip", "fetch"): outcomes[("/drip", "fetch")],
        ("/truncated", "fetch"): outcomes[("/truncated", "fetch")],
        ("/loop/a", "fetch"): f"redirect loop: {base}/loop/a -> {base}/loop/b -> {base}/loop/a",
        ("/to-private", "fetch"): "refused: 10.0.0.1 resolves to non-public address 10.0.0.1; "
                                  "allow it with fetch.allow_networks or EVIDENCE_HUB_ALLOW_NETWORKS",
        ("/to-metadata", "fetch"): "refused: 169.254.169.254 resolves to non-public address 169.254.169.254; "
                                   "allow it with fetch.allow_networks or EVIDENCE_HUB_ALLOW_NETWORKS",
        ("/to-outside", "fetch"): "refused: host example.com is outside the source's allowed domains",
        ("/error.pdf", "extract"): "soft 404: the page says 'Page not found' although the server answered "
                                   "with success; it is an error page, not a document (check the link in the source)",
        ("/huge", "fetch"): "body of 2097152 bytes is over the 65536-byte cap (not downloaded)",
        ("/huge-stream", "fetch"): outcomes[("/huge-stream", "fetch")],
        ("/gone", "fetch"): "HTTP 404",
        ("/private/secret.html", "robots"): "disallowed by robots.txt",
        ("/ok/x.html", "robots"): f"robots.txt unreachable or server error (HTTP 500 from "
                                  f"{down.base_url.removeprefix('http://')}); RFC 9309: disallow all",
        ("/calendar?month=2024-03", "discover"): "listing stopped: 3 listing pages in a row gave no new document "
                                                 "link (a crawler trap such as an endless calendar?)",
    }
    assert outcomes[("/drip", "fetch")].startswith("deadline of 2 s exceeded (")
    assert outcomes[("/truncated", "fetch")].startswith("truncated or malformed response: ")
    assert outcomes[("/truncated", "fetch")].endswith("(after 2 attempts)")
    assert outcomes[("/huge-stream", "fetch")].startswith("body is over the 65536-byte cap (stopped while streaming")

    stats = summary.hosts[host]
    assert (stats.throttled, stats.server_errors, stats.last_retry_after_s) == (1, 3, 1.0)
    assert stats.retries == 4 and stats.backoff_s > 0  # 429, 500, 503, truncated each retried once
    assert summary.model_dump(mode="json")["hosts"][host]["throttled"] == 1

    registry = Registry(settings.registry_path)
    try:
        states = {record.url.removeprefix(base): record.state for record in
                  (registry.get(base + p) for p in paths)}
        assert states == {"/ok/one.html": "indexed", "/retry-after/x": "indexed", "/flaky/x": "indexed",
                          "/pdf-as-html": "indexed", "/private/secret.html": "skipped",
                          **{p: "failed" for p in paths[4:15]}}
        assert registry.counts("listing")["indexed"] == 6
    finally:
        registry.close()


def test_host_paused_while_waiting_for_a_slot_is_not_slept_through():
    from crawl.politeness import HostBackingOff, HostPoliteness

    politeness = HostPoliteness(per_host_concurrency=1, max_wait_s=5)
    politeness.acquire("a.example:80", 0)
    waiting: dict[str, object] = {}

    def second():
        try:
            politeness.acquire("a.example:80", 0)
            waiting["result"] = "acquired"
        except HostBackingOff as exc:
            waiting["result"] = exc.seconds

    import threading

    worker = threading.Thread(target=second)
    worker.start()
    politeness.back_off("a.example:80", 3600, retry_after=3600)
    politeness.release("a.example:80")
    worker.join(timeout=10)
    assert not worker.is_alive() and 3500 < waiting["result"] <= 3600
    stats = politeness.stats()["a.example:80"]
    assert stats.requests == 1 and stats.backoff_s == pytest.approx(3600, abs=1)
