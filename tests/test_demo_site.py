"""Demo site builder and loopback static server: real HTTP over 127.0.0.1."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from demo.build import COPYRIGHT_YEAR, build_site, to_pdf_text
from demo.content import DOCUMENTS, POSTS, PUBLISHER, REPORT_SECTIONS, REPORTS
from demo.server import StaticSite

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-site")
    build_site(root)
    return root


@pytest.fixture(scope="module")
def site(site_root: Path):
    with StaticSite(site_root) as running:
        yield running


@pytest.fixture()
def client():
    with httpx.Client(timeout=10, follow_redirects=False) as c:
        yield c


# --------------------------------------------------------------------------- content


def test_content_shape() -> None:
    assert len(POSTS) == 7 and len(REPORTS) == 4 and len(DOCUMENTS) == 11
    assert len({d.slug for d in DOCUMENTS}) == 11
    assert len({d.title for d in DOCUMENTS}) == 11
    for d in DOCUMENTS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", d.slug), d.slug
        assert d.authors and all(a.strip() for a in d.authors)
        assert date(2023, 1, 1) <= d.published <= date(2025, 12, 31)
        assert d.published.year != COPYRIGHT_YEAR
        assert d.summary
    for post in POSTS:
        assert 350 <= post.word_count() <= 600, (post.slug, post.word_count())
        assert 4 <= len(post.paragraphs()) <= 7, post.slug
        assert 2 <= sum(1 for heading, _ in post.sections if heading) <= 3, post.slug
    for report in REPORTS:
        assert 1200 <= report.word_count() <= 2000, (report.slug, report.word_count())
        assert tuple(h for h, _ in report.sections) == REPORT_SECTIONS


def test_to_pdf_text_is_latin1() -> None:
    text = to_pdf_text("\u201cCo\u2011production\u201d \u2013 \u00a35\u2026 caf\u00e9 \u4e2d")
    assert text == '"Co-production" - \u00a35... caf\u00e9 ?'
    text.encode("latin-1")


# --------------------------------------------------------------------------- build


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = build_site(tmp_path / "one")
    second = build_site(tmp_path / "two")
    assert [p.relative_to(tmp_path / "one") for p in first] == [
        p.relative_to(tmp_path / "two") for p in second
    ]
    hashes = _hashes(tmp_path / "one")
    assert hashes == _hashes(tmp_path / "two")
    build_site(tmp_path / "one")  # rebuilding in place changes nothing either
    assert _hashes(tmp_path / "one") == hashes
    expected = (
        {f"posts/{d.slug}.html" for d in POSTS}
        | {f"reports/{d.slug}.html" for d in REPORTS}
        | {f"reports/{d.slug}.pdf" for d in REPORTS}
        | {"index.html", "private/staff-only.html"}
    )
    assert set(hashes) == expected


def test_post_page_markup(site_root: Path) -> None:
    post = POSTS[0]
    page = (site_root / "posts" / f"{post.slug}.html").read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert f'<meta property="og:site_name" content="{PUBLISHER}">' in page
    assert f'<meta property="article:published_time" content="{post.published}">' in page
    assert f'<meta name="author" content="{post.authors[0]}">' in page
    assert '<meta name="description"' in page and '<meta property="og:title"' in page
    assert f'<time datetime="{post.published}">' in page
    assert page.count("<h2>") >= 2 and "<header>" in page and "<footer>" in page
    assert f"&copy; {COPYRIGHT_YEAR}" in page
    for report in REPORTS:
        landing = (site_root / "reports" / f"{report.slug}.html").read_text("utf-8")
        assert f'href="{report.slug}.pdf"' in landing


# --------------------------------------------------------------------------- server


def test_robots_txt(site: StaticSite, client: httpx.Client) -> None:
    response = client.get(site.base_url + "/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /private/" in lines
    assert f"Sitemap: {site.base_url}/sitemap.xml" in lines


def test_sitemap_lists_pages_and_pdfs_not_private(
    site: StaticSite, client: httpx.Client
) -> None:
    response = client.get(site.base_url + "/sitemap.xml")
    assert response.status_code == 200
    urlset = ET.fromstring(response.content)
    assert urlset.tag == f"{SITEMAP}urlset"
    locs = [u.findtext(f"{SITEMAP}loc") for u in urlset.iter(f"{SITEMAP}url")]
    lastmods = [u.findtext(f"{SITEMAP}lastmod") for u in urlset.iter(f"{SITEMAP}url")]
    base = site.base_url
    expected = (
        {f"{base}/posts/{d.slug}.html" for d in POSTS}
        | {f"{base}/reports/{d.slug}.html" for d in REPORTS}
        | {f"{base}/reports/{d.slug}.pdf" for d in REPORTS}
        | {f"{base}/index.html"}
    )
    assert set(locs) == expected
    assert not any("/private/" in loc for loc in locs)
    assert sorted(locs) == site.urls()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", m) for m in lastmods)


def test_feed_is_atom_with_one_entry_per_file(site: StaticSite, client: httpx.Client) -> None:
    response = client.get(site.base_url + "/feed.xml")
    assert response.status_code == 200
    assert "atom" in response.headers["content-type"]
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == len(site.urls()) == 7 + 4 * 2 + 1
    for entry in entries:
        href = entry.find(f"{ATOM}link").get("href")
        assert href in site.urls()
        assert entry.findtext(f"{ATOM}id") == href
        assert href.rsplit("/", 1)[1].startswith(entry.findtext(f"{ATOM}title"))
        assert entry.findtext(f"{ATOM}updated")


def test_pdf_served_and_title_extractable(
    site: StaticSite, client: httpx.Client, tmp_path: Path
) -> None:
    from pdfminer.high_level import extract_text

    report = REPORTS[0]  # its title has an en dash, written as "-" in the PDF
    response = client.get(f"{site.base_url}/reports/{report.slug}.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    text = " ".join(extract_text(str(pdf), maxpages=1).split())
    assert text.startswith(" ".join(to_pdf_text(report.title).split()))
    assert report.authors[0] in text


def test_html_content_type_has_no_charset(site: StaticSite, client: httpx.Client) -> None:
    response = client.get(f"{site.base_url}/posts/{POSTS[1].slug}.html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert POSTS[1].title in response.content.decode("utf-8")


def test_conditional_get(site: StaticSite, client: httpx.Client) -> None:
    url = f"{site.base_url}/posts/{POSTS[0].slug}.html"
    first = client.get(url)
    assert first.status_code == 200
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag)

    by_etag = client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == etag

    by_date = client.get(url, headers={"If-Modified-Since": last_modified})
    assert by_date.status_code == 304

    stale = client.get(url, headers={"If-None-Match": '"0-0"'})
    assert stale.status_code == 200 and stale.content == first.content
    # If-None-Match wins over If-Modified-Since when both are sent.
    both = client.get(url, headers={"If-None-Match": '"0-0"', "If-Modified-Since": last_modified})
    assert both.status_code == 200


def test_missing_file_is_404_and_requests_are_recorded(
    site: StaticSite, client: httpx.Client
) -> None:
    response = client.get(site.base_url + "/posts/no-such-post.html")
    assert response.status_code == 404
    assert ("GET", "/posts/no-such-post.html", 404) in site.requests
    head = client.head(site.base_url + "/index.html")
    assert head.status_code == 200
    assert ("HEAD", "/index.html", 200) in site.requests


def test_private_page_is_served_but_not_listed(site: StaticSite, client: httpx.Client) -> None:
    response = client.get(site.base_url + "/private/staff-only.html")
    assert response.status_code == 200
    assert not any("/private/" in url for url in site.urls())


def test_awkward_file_names(tmp_path: Path, client: httpx.Client) -> None:
    (tmp_path / "a & b.html").write_bytes(b"<html><title>A &amp; B</title></html>")
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "x.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
    (tmp_path / "notes.txt").write_text("not listed")
    with StaticSite(tmp_path, disallow=()) as site:
        quoted = f"{site.base_url}/{quote('a & b.html')}"
        assert site.urls() == sorted([quoted, f"{site.base_url}/sub%20dir/x.pdf"])
        assert client.get(quoted).content.startswith(b"<html><title>A &amp; B")
        sitemap = ET.fromstring(client.get(site.base_url + "/sitemap.xml").content)
        assert quoted in [loc.text for loc in sitemap.iter(f"{SITEMAP}loc")]
        feed = ET.fromstring(client.get(site.base_url + "/feed.xml").content)
        titles = {e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")}
        assert titles == {"a & b", "x"}
        robots = client.get(site.base_url + "/robots.txt").text
        assert "Disallow: /private/" not in robots
        pdf = client.get(f"{site.base_url}/sub%20dir/x.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        base = site.base_url
    with pytest.raises(httpx.TransportError):  # socket closed on exit
        httpx.get(base + "/robots.txt", timeout=2)
