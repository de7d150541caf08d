"""Discovery, robots.txt, canonical URLs and fetching, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import json

import pytest

from config.settings import FetchSettings
from config.sources import Source
from crawl.discovery import DiscoveryError, discover, discover_directory, parse_sitemap
from crawl.fetch import Fetcher, FetchError
from crawl.robots import RobotsAnswer, RobotsPolicy
from crawl.urls import canonical_url
from tests.sites import Route, RoutedSite

LOOPBACK = FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=1, timeout_s=5)


def test_canonical_url_drops_tracking_fragment_port_and_sorts_query():
    assert canonical_url("HTTP://Example.ORG:80/a/b?z=1&utm_source=x&a=2&fbclid=9#top") == \
        "http://example.org/a/b?a=2&z=1"
    assert canonical_url("https://example.org:443/report.pdf?gclid=1") == "https://example.org/report.pdf"


def test_case_020_tracking_parameter_variants_collapse(cases_dir):
    lines = (cases_dir / "020-duplicate-pages-tracking-params" / "discovered_urls.txt").read_text().split()
    urls = [line for line in lines if line.startswith("http")]
    canonical = {canonical_url(u) for u in urls}
    assert len(urls) > len(canonical)
    assert not any("utm_" in u or "fbclid" in u or "gclid" in u for u in canonical)


def test_case_004_gzip_children_decided_by_bytes(cases_dir):
    case = cases_dir / "004-sitemap-index-gzip-children"
    responses = json.loads((case / "responses.json").read_text())
    routes = {}
    for url, spec in responses.items():
        path = url.replace("https://shop.example.org", "")
        body = (case / spec["body_file"]).read_bytes()
        headers = dict(spec["headers"])
        routes[path] = Route(spec["status"], body, headers)
    with RoutedSite(routes) as site:
        index_path = "/sitemap_index.xml"
        routes[index_path].body = routes[index_path].body.replace(b"https://shop.example.org", site.base_url.encode())
        source = Source(name="shop", kind="sitemap", url=site.base_url + index_path,
                        allowed_domains=["127.0.0.1", "shop.example.org"])
        with Fetcher(LOOPBACK) as fetcher:
            found = discover(source, lambda u: fetcher.get(u))
    assert sorted(item.url for item in found) == sorted([
        "https://shop.example.org/about", "https://shop.example.org/contact", "https://shop.example.org/p/1001",
        "https://shop.example.org/p/1002", "https://shop.example.org/archive/2019"])
    assert all(item.lastmod is not None and item.lastmod.date().isoformat() == "2026-10-30" for item in found)


def test_sitemap_rejects_non_sitemap_xml_and_html():
    with pytest.raises(DiscoveryError, match="not a sitemap"):
        parse_sitemap(b"<rss><channel/></rss>")
    with pytest.raises(DiscoveryError):
        parse_sitemap(b"")


def test_sitemap_without_namespace_and_gzip_bomb_cap():
    kind, entries = parse_sitemap(b"<urlset><url><loc>https://a.org/x</loc></url></urlset>")
    assert kind == "urlset" and entries[0].url == "https://a.org/x"
    kind, entries = parse_sitemap(gzip.compress(gzip.compress(
        b'<urlset xmlns="http://www.google.com/schemas/sitemap/0.84"><url><loc>https://a.org/y</loc></url></urlset>')))
    assert entries[0].url == "https://a.org/y"


def test_feed_links_resolve_against_final_url_after_redirect():
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b'<item><title>One</title><link>reports/one.pdf</link></item>'
            b'<item><title>Two</title><link>/blog/two?utm_medium=rss</link></item></channel></rss>')
    routes = {"/old-feed": Route(301, b"", {"Location": "/news/feed.xml"}),
              "/news/feed.xml": Route(200, feed, {"Content-Type": "application/rss+xml"})}
    with RoutedSite(routes) as site:
        source = Source(name="f", kind="feed", url=site.base_url + "/old-feed")
        with Fetcher(LOOPBACK) as fetcher:
            found = discover(source, lambda u: fetcher.get(u, allow_host=source.allows_host))
    assert [f.url for f in found] == [site.base_url + "/news/reports/one.pdf", site.base_url + "/blog/two"]
    assert found[0].title == "One"


def test_directory_discovery_lists_pdf_and_html_only(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.pdf", "b.html", "sub/c.HTM", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = discover_directory(tmp_path)
    assert [f.url.rsplit("/", 1)[-1] for f in found] == ["a.pdf", "b.html", "c.HTM"]
    with pytest.raises(DiscoveryError, match="folder not found"):
        discover_directory(tmp_path / "missing")


def test_case_001_robots_with_bom(cases_dir):
    body = (cases_dir / "001-robots-txt-utf8-bom" / "robots.txt").read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    with RoutedSite({"/robots.txt": Route(200, body, {"Content-Type": "text/plain"})}) as site:
        with Fetcher(LOOPBACK) as fetcher:
            policy = RobotsPolicy("mybot", fetcher.fetch_robots)
            assert policy.can_fetch(site.base_url + "/private/a.html") == (False, "disallowed by robots.txt")
            assert policy.can_fetch(site.base_url + "/public/b.html")[0] is True
            assert policy.crawl_delay(site.base_url + "/") == 5.0
            assert policy.sitemaps(site.base_url + "/") == ["https://example.org/sitemap.xml"]


@pytest.mark.parametrize("status, allowed", [(404, True), (403, True), (429, False), (500, False), (503, False)])
def test_robots_status_semantics_rfc9309(status, allowed):
    with RoutedSite({"/robots.txt": Route(status, b"Disallow: /")}) as site:
        with Fetcher(LOOPBACK) as fetcher:
            policy = RobotsPolicy("bot", fetcher.fetch_robots)
            assert policy.can_fetch(site.base_url + "/x")[0] is allowed


def test_robots_unreachable_disallows():
    policy = RobotsPolicy("bot", lambda url: RobotsAnswer(0, ""))
    assert policy.can_fetch("http://127.0.0.1:9/x") == (
        False, "robots.txt unreachable or server error (no answer); RFC 9309: disallow all")


def test_conditional_get_gives_304_and_keeps_validators():
    routes = {"/doc": Route(200, b"<html>hi</html>", {"ETag": '"v1"', "Content-Type": "text/html"})}
    with RoutedSite(routes) as site:
        with Fetcher(LOOPBACK) as fetcher:
            first = fetcher.get(site.base_url + "/doc")
            assert first.status == 200 and first.etag == '"v1"'
            routes["/doc"] = Route(304, b"", {"ETag": '"v1"'})
            second = fetcher.get(site.base_url + "/doc", etag=first.etag)
    assert second.not_modified and second.etag == '"v1"'
    assert site.hits[-1][1].get("If-None-Match") == '"v1"'


def test_private_addresses_refused_unless_allowed():
    with RoutedSite({"/x": Route(200, b"ok")}) as site:
        with Fetcher(FetchSettings(min_delay_s=0, retries=0)) as fetcher:
            with pytest.raises(FetchError, match="non-public address 127.0.0.1"):
                fetcher.get(site.base_url + "/x")


def test_redirect_outside_allowed_domains_is_refused():
    routes = {"/go": Route(302, b"", {"Location": "http://localhost:1/elsewhere"})}
    with RoutedSite(routes) as site:
        source = Source(name="s", kind="urls", urls=[site.base_url + "/go"])
        with Fetcher(LOOPBACK) as fetcher:
            with pytest.raises(FetchError, match="outside the source's allowed domains"):
                fetcher.get(site.base_url + "/go", allow_host=source.allows_host)


def test_body_size_cap_and_http_errors():
    routes = {"/big": Route(200, b"x" * 5000), "/gone": Route(410, b"gone"), "/loop": Route(302, b"", {"Location": "/loop"})}
    routes |= {f"/hop/{i}": Route(302, b"", {"Location": f"/hop/{i + 1}"}) for i in range(10)}
    with RoutedSite(routes) as site:
        with Fetcher(FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=0, max_bytes=1024)) as f:
            with pytest.raises(FetchError, match="over the 1024-byte cap"):
                f.get(site.base_url + "/big")
            with pytest.raises(FetchError, match="HTTP 410"):
                f.get(site.base_url + "/gone")
            with pytest.raises(FetchError, match="redirect loop: .*/loop -> .*/loop"):
                f.get(site.base_url + "/loop")
            with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
                f.get(site.base_url + "/hop/0")


def test_retries_on_503_then_reports_reason():
    with RoutedSite({"/flaky": Route(503, b"busy", {"Retry-After": "0"})}) as site:
        with Fetcher(FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=2)) as fetcher:
            with pytest.raises(FetchError, match="HTTP 503"):
                fetcher.get(site.base_url + "/flaky")
    assert len(site.hits) == 3  # first try + 2 retries


def test_file_urls_refused_unless_allowed(tmp_path):
    secret = tmp_path / "secret.html"
    secret.write_text("<html><body>SUPERSECRET</body></html>")
    with Fetcher(LOOPBACK) as fetcher:
        with pytest.raises(FetchError, match="only read from directory sources"):
            fetcher.get(secret.as_uri())
        assert b"SUPERSECRET" in fetcher.get(secret.as_uri(), allow_files=True).content


def test_shared_address_space_and_metadata_addresses_refused():
    from crawl.fetch import AddressPolicy

    policy = AddressPolicy([])
    for host in ("100.100.100.200", "169.254.169.254", "10.1.2.3", "0.0.0.0"):
        with pytest.raises(FetchError, match="non-public address"):
            policy.check(host)


def test_bad_gzip_body_and_bad_redirect_are_fetch_errors():
    routes = {"/gz": Route(200, b"not gzip at all", {"Content-Encoding": "gzip"}),
              "/bad": Route(302, b"", {"Location": "http://[bad"})}
    with RoutedSite(routes) as site:
        with Fetcher(FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=0)) as fetcher:
            with pytest.raises(FetchError, match="bad response"):
                fetcher.get(site.base_url + "/gz")
            with pytest.raises(FetchError):
                fetcher.get(site.base_url + "/bad")


def test_listing_sources_are_validated(tmp_path):
    from config import ConfigError, load_sources

    good = tmp_path / "good.yaml"
    good.write_text("sources:\n  - name: pubs\n    kind: listing\n    url: https://example.org/publications\n"
                    "    listing:\n      link_selector: 'li.document h3 a'\n      next_selector: 'a[rel=next]'\n"
                    "      follow_selector: 'nav.years a'\n      max_pages: 50\n      max_depth: 1\n"
                    "      max_empty_pages: 3\n")
    [source] = load_sources(good)
    assert (source.kind, source.listing.link_selector, source.allowed_domains) == (
        "listing", "li.document h3 a", ["example.org"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: pubs\n    kind: listing\n    url: https://example.org/p\n"
                   "    listing: {link_selector: 'a[href'}\n")
    with pytest.raises(ConfigError, match=r"sources\.0\.listing\.link_selector.*'a\[href' is not a valid CSS selector"):
        load_sources(bad)
    bad.write_text("sources:\n  - name: pubs\n    kind: listing\n    url: https://example.org/p\n")
    with pytest.raises(ConfigError, match="a listing source needs 'listing'"):
        load_sources(bad)


def test_http_link_canonical_header_is_read():
    from crawl.urls import canonical_target

    routes = {"/report.pdf": Route(200, b"%PDF-1.4 ...", {"Link": '</reports/final.pdf?utm_source=x>; rel="canonical"'}),
              "/plain": Route(200, b"<html><head></head><body>x</body></html>")}
    with RoutedSite(routes) as site:
        with Fetcher(LOOPBACK) as fetcher:
            pdf, plain = fetcher.get(site.base_url + "/report.pdf"), fetcher.get(site.base_url + "/plain")
    assert pdf.canonical == site.base_url + "/reports/final.pdf?utm_source=x"
    assert canonical_target(pdf.url, pdf, lambda host: host == "127.0.0.1") == site.base_url + "/reports/final.pdf"
    assert canonical_target(pdf.url, pdf, lambda host: False) is None
    assert plain.canonical is None and canonical_target(plain.url, plain, lambda host: True) is None
