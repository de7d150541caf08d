"""The main job end to end on the project's own demo site: a real Prefect flow, real HTTP on
127.0.0.1, real PDFs and HTML, the real model, the embedded index."""

from __future__ import annotations

import pytest

from config.sources import Source
from crawl.registry import Registry
from demo.build import build_site
from demo.content import POSTS, REPORTS
from demo.server import StaticSite
from flows.context import HubContext
from flows.ingest import run_ingest
from index.query import SearchFilters, SearchQuery


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    build_site(root)
    with StaticSite(root) as site:
        yield site


@pytest.fixture(scope="module")
def ingested(demo, tmp_path_factory):
    from config import load_settings

    home = tmp_path_factory.mktemp("hub")
    settings = load_settings(home=str(home), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0})
    source = Source(name="demo", kind="sitemap", url=demo.base_url + "/sitemap.xml", publisher="Northmoor")
    first = run_ingest([source], settings)
    demo.requests.clear()
    second = run_ingest([source], settings)
    return settings, source, first, second, list(demo.requests)


def _search(settings, text, mode="hybrid", **filters):
    ctx = HubContext(settings)
    try:
        vector = ctx.embedder.encode([text])[0]
        return ctx.index.search(SearchQuery(text=text, mode=mode, filters=SearchFilters(**filters)), vector).hits
    finally:
        ctx.close()


def test_first_run_indexes_every_page_and_pdf(ingested, demo):
    settings, _, first, _, _ = ingested
    discovered = len(demo.urls())  # posts, report landing pages, PDFs, index page (not /private/)
    expected = discovered - len(REPORTS)  # each landing page and its PDF are one document (fused)
    assert first.discovered == discovered
    assert first.failed == 0, first.failures
    assert (first.indexed, first.duplicates) == (expected, len(REPORTS))
    ctx = HubContext(settings)
    try:
        assert ctx.index.count() == expected
        assert ctx.registry.counts("demo")["indexed"] == expected
        for report in REPORTS:
            (hit,) = [u for u in ctx.index.ids() if ctx.index.get(u).url.endswith(f"/reports/{report.slug}.html")]
            doc = ctx.index.get(hit)
            assert doc.page_count and doc.url.endswith(".html") and any(u.endswith(f"{report.slug}.pdf") for u in doc.urls)
            assert "landing_page_fused" in doc.quality.flags
    finally:
        ctx.close()


def test_second_run_refetches_nothing_and_duplicates_nothing(ingested, demo):
    settings, _, first, second, requests = ingested
    assert second.indexed == 0 and second.fetched == 0 and second.failed == 0
    assert second.not_modified == second.discovered == first.discovered
    document_requests = [r for r in requests if r[1].endswith((".html", ".pdf"))]
    assert document_requests and all(status == 304 for _, _, status in document_requests)
    ctx = HubContext(settings)
    try:
        assert ctx.index.count() == first.indexed
    finally:
        ctx.close()


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_exact_titles_come_first_in_every_mode(ingested, mode):
    settings = ingested[0]
    for document in POSTS[:3]:
        hits = _search(settings, document.title, mode)
        assert hits[0].title == document.title, (mode, document.title, [h.title for h in hits[:3]])


def test_report_found_by_topic_with_labels_and_page(ingested):
    settings = ingested[0]
    report = REPORTS[0]
    hits = _search(settings, report.summary[:200], "semantic")
    assert report.slug in hits[0].url
    assert hits[0].snippet
    assert hits[0].policy_areas or hits[0].themes


def test_policy_area_filter_returns_only_labelled_documents(ingested):
    settings = ingested[0]
    hits = _search(settings, "partnership", "hybrid", policy_area="P2")
    assert hits, "the demo covers health and social care"
    assert all(any(label.id == "P2" for label in hit.policy_areas) for hit in hits)


def test_robots_disallowed_page_is_skipped_with_reason(demo, settings):
    source = Source(name="private", kind="urls", urls=[demo.base_url + "/private/staff-only.html"])
    summary = run_ingest([source], settings)
    assert summary.indexed == 0 and summary.skipped == 1
    assert summary.failures[0].reason == "disallowed by robots.txt"
    assert Registry(settings.registry_path).get(demo.base_url + "/private/staff-only.html").state == "skipped"


def test_directory_source_and_unreachable_source_recorded(tmp_path, settings):
    folder = tmp_path / "downloads"
    build_site(folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    sources = [Source(name="downloads", kind="directory", path=folder),
               Source(name="gone", kind="feed", url="http://127.0.0.1:9/feed.xml")]
    summary = run_ingest(sources, settings)
    assert summary.indexed == len(POSTS) + 2 * len(REPORTS) + 2  # posts, report pages and PDFs, index, private
    reasons = {f.url.rsplit("/", 1)[-1]: f.reason for f in summary.failures}
    assert "malformed PDF" in reasons["broken.pdf"]
    assert any("source gone" in f.reason and f.stage == "discover" for f in summary.failures)


def test_exact_duplicate_is_recorded_once_and_not_downloaded_again(tmp_path, settings):
    post = POSTS[0]
    folder = tmp_path / "dupes"
    build_site(tmp_path / "built")
    folder.mkdir()
    page = (tmp_path / "built" / "posts" / f"{post.slug}.html").read_bytes()
    (folder / "a.html").write_bytes(page)
    (folder / "b.html").write_bytes(page)
    with StaticSite(folder) as site:
        source = Source(name="dupes", kind="urls", urls=[site.base_url + "/a.html", site.base_url + "/b.html"])
        first = run_ingest([source], settings)
        second = run_ingest([source], settings)
    assert (first.indexed, first.duplicates) == (1, 1)
    assert second.fetched == 0 and second.not_modified == 2 and second.indexed == 0


def test_remote_sources_cannot_read_local_files_and_bad_entries_do_not_stop_the_run(tmp_path, settings):
    from tests.sites import Route, RoutedSite

    secret = tmp_path / "secret.html"
    secret.write_text("<html><body><p>SUPERSECRET " + "word " * 50 + "</p></body></html>")
    page = build_site(tmp_path / "built") and (tmp_path / "built" / "posts" / f"{POSTS[2].slug}.html").read_bytes()
    sitemap = (f'<urlset><url><loc>{secret.as_uri()}</loc></url><url><loc>http://[bad</loc></url>'
               f'<url><loc>ftp://127.0.0.1/x.pdf</loc></url><url><loc>/good.html</loc></url></urlset>').encode()
    routes = {"/sitemap.xml": Route(200, sitemap), "/good.html": Route(200, page, {"Content-Type": "text/html"})}
    with RoutedSite(routes) as site:
        summary = run_ingest([Source(name="evil", kind="sitemap", url=site.base_url + "/sitemap.xml")], settings)
    assert summary.indexed == 1
    reasons = {f.url: f.reason for f in summary.failures}
    assert "only read from directory sources" in reasons[secret.as_uri()]
    assert any("scheme 'ftp'" in r for r in reasons.values())
    ctx = HubContext(settings)
    try:
        assert all("SUPERSECRET" not in (ctx.index.get(i).text or "") for i in ctx.index.ids())
    finally:
        ctx.close()


def test_lost_index_is_refilled_not_answered_with_304(demo, settings):
    source = Source(name="demo-refill", kind="urls", urls=[demo.base_url + f"/posts/{POSTS[3].slug}.html"])
    assert run_ingest([source], settings).indexed == 1
    settings.index_path.unlink()
    for suffix in ("-wal", "-shm"):
        settings.index_path.with_name(settings.index_path.name + suffix).unlink(missing_ok=True)
    again = run_ingest([source], settings)
    assert again.indexed == 1 and again.not_modified == 0
