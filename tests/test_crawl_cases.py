"""The crawler's cases from ../shared/cases (001, 004, 006, 008, 016, 020), each holding the
right value from its expected.md, over real HTTP on 127.0.0.1. The kind behind each is tested
beside it (other BOM'd robots, other gzip layers, other odd dates, other slow servers, other
tracking spellings)."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import datetime, timezone

import pytest

from config.settings import FetchSettings
from config.sources import Source
from core.models import document_id
from crawl.dates import parse_date_strictly
from crawl.discovery import DiscoveryIssue, discover, parse_feed
from crawl.fetch import Fetcher, FetchError
from crawl.robots import RobotsPolicy
from crawl.urls import canonical_link, canonical_target, canonical_url
from tests.fault_site import FaultSite
from tests.sites import Route, RoutedSite

LOOPBACK = FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=0, timeout_s=5)


# -- 001: robots.txt with a UTF-8 BOM ---------------------------------------------------------
@pytest.mark.parametrize("prefix", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b""])
def test_case_001_robots_bom_through_the_persisted_cache(cases_dir, prefix, tmp_path):
    from crawl.registry import Registry

    body = (cases_dir / "001-robots-txt-utf8-bom" / "robots.txt").read_bytes().removeprefix(b"\xef\xbb\xbf")
    registry = Registry(tmp_path / "registry.sqlite")
    with RoutedSite({"/robots.txt": Route(200, prefix + body, {"Content-Type": "text/plain"})}) as site:
        with Fetcher(LOOPBACK) as fetcher:
            for _ in range(2):  # the second policy answers from the registry, without a request
                policy = RobotsPolicy("mybot", fetcher.fetch_robots)
                policy.persist_in(registry)
                assert policy.can_fetch(site.base_url + "/private/a.html") == (False, "disallowed by robots.txt")
                assert policy.can_fetch(site.base_url + "/public/b.html") == (True, "")
                assert policy.crawl_delay(site.base_url + "/") == 5.0
                assert policy.sitemaps(site.base_url + "/") == ["https://example.org/sitemap.xml"]
    assert [path for path, _ in site.hits] == ["/robots.txt"]
    registry.close()


# -- 004: sitemap index with gzip children ---------------------------------------------------
def _shop(cases_dir):
    case = cases_dir / "004-sitemap-index-gzip-children"
    routes = {}
    for url, spec in json.loads((case / "responses.json").read_text()).items():
        routes[url.replace("https://shop.example.org", "")] = Route(spec["status"], (case / spec["body_file"]).read_bytes(),
                                                                    dict(spec["headers"]))
    return routes


def test_case_004_a_broken_child_is_reported_with_its_url_and_the_rest_discovered(cases_dir):
    routes = _shop(cases_dir)
    routes["/sitemaps/products01.xml.gz"] = Route(200, b"\x1f\x8b\x08\x00 not really gzip", {})
    with RoutedSite(routes) as site:
        routes["/sitemap_index.xml"].body = routes["/sitemap_index.xml"].body.replace(
            b"https://shop.example.org", site.base_url.encode())
        issues: list[DiscoveryIssue] = []
        source = Source(name="shop", kind="sitemap", url=site.base_url + "/sitemap_index.xml",
                        allowed_domains=["127.0.0.1", "shop.example.org"])
        with Fetcher(LOOPBACK) as fetcher:
            found = discover(source, fetcher.get, issues)
    assert sorted(f.url for f in found) == ["https://shop.example.org/about", "https://shop.example.org/archive/2019",
                                            "https://shop.example.org/contact"]
    assert [(i.url, i.reason.split(":")[0]) for i in issues] == [
        (site.base_url + "/sitemaps/products01.xml.gz", "sitemap not read")]
    assert "corrupt gzip data" in issues[0].reason


def test_case_004_robots_txt_sitemaps_and_a_gzip_bomb_is_capped(cases_dir):
    from crawl.discovery import MAX_DECOMPRESSED

    routes = _shop(cases_dir)
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_DECOMPRESSED + 10) + b"</urlset>")
    with RoutedSite(routes) as site:
        routes["/sitemap_index.xml"].body = routes["/sitemap_index.xml"].body.replace(
            b"https://shop.example.org", site.base_url.encode())
        routes["/robots.txt"] = Route(200, f"Sitemap: {site.base_url}/sitemap_index.xml\nSitemap: /bomb.xml.gz\n"
                                      .encode())
        routes["/bomb.xml.gz"] = Route(200, bomb)
        issues: list[DiscoveryIssue] = []
        source = Source(name="shop", kind="sitemap", url=site.base_url + "/robots.txt",
                        allowed_domains=["127.0.0.1", "shop.example.org"])
        with Fetcher(LOOPBACK) as fetcher:
            found = discover(source, fetcher.get, issues)
    assert len(found) == 5 and {f.lastmod.date().isoformat() for f in found} == {"2026-10-30"}
    assert issues == [DiscoveryIssue(site.base_url + "/bomb.xml.gz",
                                     f"sitemap not read: gzip data expands beyond {MAX_DECOMPRESSED} bytes")]


# -- 006: BOM beats header and meta, through the fetch layer -----------------------------------
def test_case_006_fetched_bytes_keep_the_bom_decision(cases_dir):
    from extractors import extract

    case = cases_dir / "006-html-bom-vs-header-charset"
    spec = json.loads((case / "response.json").read_text())
    body = (case / spec["body_file"]).read_bytes()
    with RoutedSite({"/hello": Route(200, body, spec["headers"])}) as site:
        with Fetcher(LOOPBACK) as fetcher:
            result = fetcher.get(site.base_url + "/hello")
    assert result.content == body and result.content_type == "text/html; charset=cp1251"
    doc = extract(result.content, url=result.final_url, content_type=result.content_type)
    assert doc.title == "Привет" and "Привет, мир!" in doc.text and not doc.text.startswith("\ufeff")
    # the crawler's own HTML reading (canonical links, listings) uses the same precedence
    page = b"\xef\xbb\xbf<html><head><meta charset=windows-1251><link rel=canonical href='/\xd0\xbf'></head></html>"
    assert canonical_link(page, "text/html; charset=cp1251", "http://ru.example.org/x") == "http://ru.example.org/п"


# -- 008: RSS dates ------------------------------------------------------------------------------
def test_case_008_feed_dates_are_parsed_strictly(cases_dir):
    data = (cases_dir / "008-rss-odd-pubdate-formats" / "feed.xml").read_bytes()
    items = {item.url.rsplit("/", 1)[-1]: item for item in parse_feed(data, "https://local.example.org/feed.xml")}
    utc = timezone.utc
    assert {k: (v.lastmod, v.date_raw, v.date_flags) for k, v in items.items()} == {
        "1": (datetime(2016, 6, 29, 15, 7, 41, tzinfo=utc), "2016/6/29 15:07:41", ["tz_assumed"]),
        "2": (datetime(2015, 6, 30, 22, 0, 0, tzinfo=utc), "Wed, 01 Jul 15 00:00:00 +0200", []),
        "3": (datetime(2018, 6, 25, 11, 41, 36, tzinfo=utc), "Mo, 25 Jun 2018 11:41:36", ["tz_assumed"]),
        "4": (datetime(2017, 9, 22, 19, 5, 3, tzinfo=utc), "Fri, 22 Sep 2017 22:05:03 +0300", []),
    }


@pytest.mark.parametrize("raw, expected, flags", [
    ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=timezone.utc), ()),
    ("Tue, 10 Jun 2003 04:00:00 GMT", datetime(2003, 6, 10, 4, tzinfo=timezone.utc), ()),
    ("Di, 26 Jun 2018 11:41:36 +0200", datetime(2018, 6, 26, 9, 41, 36, tzinfo=timezone.utc), ()),
    ("29 June 2016", datetime(2016, 6, 29, tzinfo=timezone.utc), ("time_assumed", "tz_assumed")),
    ("13/02/2016", datetime(2016, 2, 13, tzinfo=timezone.utc), ("time_assumed", "tz_assumed")),
    ("01/02/2016", None, ("unparsed",)),   # 1 February or 2 January: not guessed
    ("June 2016", None, ("unparsed",)),    # no day: not invented
    ("Wed, 01 Jul 0200 00:00:00", None, ("unparsed",)),  # the year-200 bug's kind
    ("soon", None, ("unparsed",)),
])
def test_odd_dates_are_read_or_refused_never_guessed(raw, expected, flags):
    parsed = parse_date_strictly(raw)
    assert (parsed.value, parsed.flags, parsed.raw) == (expected, flags, raw)


# -- 016: a body trickled one byte a second ------------------------------------------------------
def test_case_016_slow_drip_ends_at_the_total_deadline_and_other_hosts_go_on():
    settings = FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=3, timeout_s=3,
                             max_bytes=10_000_000)
    with FaultSite(drip_interval=1.0) as slow, FaultSite() as other, Fetcher(settings, per_host_concurrency=1) as f:
        outcome: dict[str, object] = {}

        def drip():
            try:
                f.get(slow.base_url + "/drip")
            except FetchError as exc:
                outcome["reason"] = exc.reason

        worker = threading.Thread(target=drip)
        worker.start()
        while not slow.requests_for("/drip"):  # the drip has started
            threading.Event().wait(0.01)
        assert f.get(other.base_url + "/ok/meanwhile.html").status == 200
        outcome["other_done_while_dripping"] = worker.is_alive()
        worker.join(timeout=30)
        # the slow host's slot was released: its next URL is fetched at once
        assert f.get(slow.base_url + "/ok/after.html").status == 200
    assert outcome["other_done_while_dripping"] is True
    reason = outcome["reason"]
    assert reason.startswith("deadline of 3 s exceeded (") and reason.endswith("partial body discarded)")
    assert 1 <= int(reason.split("(")[1].split()[0]) <= 4  # about 3 bytes of 5026
    assert len(slow.requests_for("/drip")) == 1  # not retried within the run despite retries=3


# -- 020: tracking parameters and canonical links ----------------------------------------------
def _case_020(cases_dir, base: str):
    case = cases_dir / "020-duplicate-pages-tracking-params"
    urls = [line.replace("https://www.example.org", base).replace("http://www.example.org", base)
            .replace("https://WWW.Example.org:443", base)
            for line in (case / "discovered_urls.txt").read_text().split() if line.startswith("http")]
    en = (case / "page_download.html").read_bytes().replace(b"https://www.example.org", base.encode())
    de = (case / "page_download_de.html").read_bytes().replace(b"https://www.example.org", base.encode())
    return urls, en, de


def test_case_020_queue_and_canonical_targets(cases_dir):
    base = "http://127.0.0.1:8080"
    urls, en, de = _case_020(cases_dir, base)
    queued = sorted({canonical_url(u) for u in urls})
    assert queued == [base + "/download", base + "/download/", base + "/download?lang=de"]
    source = Source(name="s", kind="urls", urls=[base + "/download"])

    class Page:
        def __init__(self, body):
            self.content, self.content_type, self.final_url = body, "text/html", None

    targets = {}
    for url in queued:
        page = Page(de if "lang=de" in url else en)
        page.final_url = url
        targets[url] = canonical_target(url, page, source.allows_host)
    assert targets == {base + "/download": None, base + "/download/": base + "/download",
                       base + "/download?lang=de": None}
    # a canonical link to another site is not trusted
    page = Page(b'<html><head><link rel="canonical" href="https://evil.example.com/download"></head></html>')
    page.final_url = base + "/download/"
    assert canonical_target(base + "/download/", page, source.allows_host) is None


def test_case_020_index_holds_two_documents_with_canonical_ids(cases_dir, tmp_path):
    from config import load_settings
    from flows.context import HubContext
    from flows.ingest import run_ingest
    from index.query import SearchQuery

    settings = load_settings(home=str(tmp_path / "hub"), fetch={"allow_networks": ["127.0.0.1/32"],
                                                                "min_delay_s": 0.0}, extraction={"min_words": 3})
    routes: dict[str, Route] = {}
    with RoutedSite(routes) as site:
        urls, en, de = _case_020(cases_dir, site.base_url)
        for path in ("/download", "/download/"):
            routes[path] = Route(200, en, {"Content-Type": "text/html; charset=utf-8"})
        routes["/download?lang=de"] = Route(200, de, {"Content-Type": "text/html; charset=utf-8"})
        summary = run_ingest([Source(name="ubuntu", kind="urls", urls=urls)], settings)
    fetched_paths = sorted({path for path, _ in site.hits if path != "/robots.txt"})
    assert fetched_paths == ["/download", "/download/", "/download?lang=de"]
    assert (summary.discovered, summary.indexed, summary.duplicates, summary.failed) == (3, 2, 1, 0)
    ctx = HubContext(settings)
    try:
        assert sorted(ctx.index.ids()) == sorted([document_id(site.base_url + "/download"),
                                                  document_id(site.base_url + "/download?lang=de")])
        for word in ("infographic", "newsletter", "fbclid", "gclid"):
            vector = ctx.embedder.encode([word])[0]
            for mode in ("bm25", "hybrid"):
                hits = ctx.index.search(SearchQuery(text=word, mode=mode), vector).hits
                assert all(word not in (h.url + " ".join(ctx.index.get(h.id).urls)).lower() for h in hits)
            assert ctx.index.search(SearchQuery(text=word, mode="bm25"), vector).hits == []
    finally:
        ctx.close()
