"""Landing page + PDF fusion (issue 4, item 3): a report's landing page and the PDF it links
become one document (the PDF's text, the page's metadata, both URLs), whichever of the two the
crawler meets first; a page listing many PDFs stays a page. Real HTTP on 127.0.0.1, real PDFs."""

from __future__ import annotations

from datetime import date

from fpdf import FPDF

from config import load_settings
from config.sources import Source
from core.models import document_id
from extractors.html import extract_html
from extractors.html_tree import parse_html
from extractors.landing import report_link
from tests.sites import Route, RoutedSite

PDF_ONLY = "tidal allotment cooperatives"  # words only the report's body holds


def _report_pdf(words: str = PDF_ONLY) -> bytes:
    pdf = FPDF()
    pdf.set_title("Microsoft Word - final_v3.docx")  # a junk Info title: the landing page knows better
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, "Growing together: community food projects", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    body = (f"This evaluation followed twelve {words} over two growing seasons and measured how many "
            "households took part, what they grew and how the projects were run. ") * 12
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _landing(pdf_href: str, extra: str = "") -> bytes:
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Evaluation of community food projects - Harbourside Trust</title>
<meta name="citation_title" content="Evaluation of community food projects">
<meta name="citation_author" content="Ada Moss"><meta name="citation_publication_date" content="2024-03-14">
<meta property="og:site_name" content="Harbourside Trust"></head>
<body><nav><a href="/about.pdf">About us (PDF)</a></nav>
<main><h1>Evaluation of community food projects</h1>
<p>Published 14 March 2024. Our evaluation of the community food projects we fund across the
region, with what worked and what we will change.</p>
<p><a href="{pdf_href}">Download the full report (PDF, 1 MB)</a></p>{extra}</main>
<footer><a href="/privacy.pdf">Privacy notice</a></footer></body></html>""".encode()


def test_report_link_finds_the_one_report_and_refuses_indexes():
    url = "https://example.org/evaluations/food"
    page = parse_html(_landing("/files/food-evaluation.pdf").decode())
    assert report_link(page, url, "Evaluation of community food projects", 30) == "https://example.org/files/food-evaluation.pdf"
    # nav/footer PDFs do not count; a long page is a document of its own
    assert report_link(page, url, "Evaluation", 5000) is None
    index = "".join(f'<li><a href="/files/report-{i}.pdf">Annual report {2000 + i}</a></li>' for i in range(6))
    listing = parse_html(f"<html><body><main><h1>Publications</h1><ul>{index}</ul></main></body></html>")
    assert report_link(listing, url, "Publications", 40) is None
    # several PDFs, one of them plainly the report
    two = _landing("/files/food-evaluation.pdf", '<p><a href="/files/easy-read-poster.pdf">Poster</a></p>')
    assert report_link(parse_html(two.decode()), url, "Evaluation of community food projects", 40) \
        == "https://example.org/files/food-evaluation.pdf"


def test_extract_html_records_the_report_link():
    doc = extract_html(_landing("../files/food-evaluation.pdf"), url="https://example.org/evaluations/food")
    assert doc.report_url == "https://example.org/files/food-evaluation.pdf"


def _ingest(tmp_path, urls: list[str], routes: dict[str, Route], fuse_landing_pages: bool = True):
    from flows.context import HubContext
    from flows.ingest import run_ingest

    settings = load_settings(home=str(tmp_path / "hub"), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0},
                             extraction={"fuse_landing_pages": fuse_landing_pages})
    summary = run_ingest([Source(name="trust", kind="urls", urls=urls)], settings)
    return summary, HubContext(settings)


def _routes() -> dict[str, Route]:
    return {
        "/evaluations/food": Route(200, _landing("/files/food-evaluation.pdf"), {"Content-Type": "text/html; charset=utf-8"}),
        "/files/food-evaluation.pdf": Route(200, _report_pdf(), {"Content-Type": "application/pdf"}),
    }


def test_landing_page_and_its_pdf_become_one_document_in_either_order(tmp_path):
    from index.query import SearchQuery

    routes = _routes()
    with RoutedSite(routes) as site:
        page, pdf = site.base_url + "/evaluations/food", site.base_url + "/files/food-evaluation.pdf"
        for order, folder in (([page, pdf], "page-first"), ([pdf, page], "pdf-first")):
            summary, ctx = _ingest(tmp_path / folder, order, routes)
            try:
                # fetched concurrently: the report may be indexed alone first, then replaced
                assert (summary.failed, summary.indexed, summary.duplicates) == (0, 1, 1), (order, summary)
                (doc_id,) = ctx.index.ids()
                record = ctx.registry.get(pdf)
                assert record.state == "duplicate" and page in record.reason
                assert doc_id == document_id(page)
                doc = ctx.index.get(doc_id)
                assert doc.title == "Evaluation of community food projects"
                assert doc.authors == ["Ada Moss"] and doc.published_date == date(2024, 3, 14)
                assert PDF_ONLY in doc.text and doc.page_count == 1 and pdf in doc.urls and page in doc.urls
                assert doc.provenance["title"].source.startswith("landing_page:")
                assert doc.provenance["text"].source.startswith("report_pdf:")
                assert "landing_page_fused" in doc.quality.flags
                hits = ctx.index.search(SearchQuery(text=PDF_ONLY, mode="bm25")).hits
                assert [h.id for h in hits] == [doc_id]
                assert ctx.registry.documents_at(pdf)[-1] == doc_id  # the PDF's own row, then the page's
            finally:
                ctx.close()


def test_show_finds_a_fused_document_by_its_report_url(tmp_path):
    # fresh-user report: `show <PDF URL>` said "no indexed document" although the document lists that URL
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    routes = _routes()
    with RoutedSite(routes) as site:
        page, pdf = site.base_url + "/evaluations/food", site.base_url + "/files/food-evaluation.pdf"
        summary, ctx = _ingest(tmp_path, [page, pdf], routes)
        ctx.close()
    exe = Path(sys.executable).with_name("evidence-hub")
    shown = subprocess.run([str(exe), "show", pdf, "--json"], capture_output=True, text=True, timeout=300,
                           env=os.environ | {"EVIDENCE_HUB_HOME": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == document_id(page)


def test_unreachable_report_leaves_the_page_a_flagged_document(tmp_path):
    routes = _routes()
    del routes["/files/food-evaluation.pdf"]
    with RoutedSite(routes) as site:
        summary, ctx = _ingest(tmp_path, [site.base_url + "/evaluations/food"], routes)
    try:
        assert summary.indexed == 1
        doc = ctx.index.get(ctx.index.ids()[0])
        assert "landing_page_report_unavailable" in doc.quality.flags and PDF_ONLY not in doc.text
    finally:
        ctx.close()


def test_a_report_answering_304_unasked_leaves_the_page_a_flagged_document(tmp_path):
    """A server that answers 304 Not Modified to a request without validators gives no report to
    fuse: the page is indexed on its own and flagged. (The code before report validators reached
    the same outcome through a failed extraction of the empty body; this holds it for the
    conditional path, which refuses such a 304 before extracting anything.)"""
    routes = _routes()
    routes["/files/food-evaluation.pdf"] = Route(304, b"", {"ETag": '"pdf-1"'})
    with RoutedSite(routes) as site:
        summary, ctx = _ingest(tmp_path, [site.base_url + "/evaluations/food"], routes)
    try:
        assert (summary.indexed, summary.failed) == (1, 0)
        doc = ctx.index.get(ctx.index.ids()[0])
        assert "landing_page_report_unavailable" in doc.quality.flags and PDF_ONLY not in doc.text
    finally:
        ctx.close()


def test_fusion_can_be_turned_off(tmp_path):
    routes = _routes()
    with RoutedSite(routes) as site:
        summary, ctx = _ingest(tmp_path, [site.base_url + "/evaluations/food"], routes, fuse_landing_pages=False)
    try:
        assert summary.indexed == 1 and PDF_ONLY not in ctx.index.get(ctx.index.ids()[0]).text
        assert [path for path, _ in site.hits if path.endswith(".pdf")] == []
    finally:
        ctx.close()


def test_unchanged_landing_page_and_report_are_not_fused_again_but_a_new_report_is(tmp_path):
    """The page has no ETag or Last-Modified, so each run downloads it; with the page's own hash
    recorded, an unchanged page whose report hashes as indexed is unchanged (no extraction, no
    re-index), and a replaced report is fused again."""
    routes = _routes()
    with RoutedSite(routes) as site:
        urls = [site.base_url + "/evaluations/food"]
        first, ctx = _ingest(tmp_path, urls, routes)
        ctx.close()
        second, ctx = _ingest(tmp_path, urls, routes)
        ctx.close()
        routes["/files/food-evaluation.pdf"] = Route(200, _report_pdf("rooftop beekeeping circles"),
                                                     {"Content-Type": "application/pdf"})
        third, ctx = _ingest(tmp_path, urls, routes)
    try:
        assert (first.indexed, first.failed) == (1, 0)
        assert (second.indexed, second.extracted, second.unchanged, second.failed) == (0, 0, 1, 0)
        assert (third.indexed, third.failed) == (1, 0)
        (doc_id,) = ctx.index.ids()
        text = ctx.index.get(doc_id).text
        assert "rooftop beekeeping circles" in text and PDF_ONLY not in text
    finally:
        ctx.close()


def test_a_report_replaced_behind_a_landing_page_answering_304_is_fused_again(tmp_path):
    """Page and report both send an ETag and answer 304 to it. A second run asks for each with
    its own validators (two 304s, no download, nothing re-indexed); once the report is replaced
    while the page stays as it was, the third run sees it and indexes the new text."""
    pdf_path = "/files/food-evaluation.pdf"
    routes = _routes()
    routes["/evaluations/food"] = Route(200, routes["/evaluations/food"].body,
                                        {"Content-Type": "text/html; charset=utf-8", "ETag": '"page-1"'}, True)
    routes[pdf_path] = Route(200, _report_pdf(), {"Content-Type": "application/pdf", "ETag": '"pdf-1"'}, True)
    with RoutedSite(routes) as site:
        urls = [site.base_url + "/evaluations/food"]
        first, ctx = _ingest(tmp_path, urls, routes)
        ctx.close()
        before = len(site.hits)
        second, ctx = _ingest(tmp_path, urls, routes)
        ctx.close()
        second_hits = site.hits[before:]
        routes[pdf_path] = Route(200, _report_pdf("rooftop beekeeping circles"),
                                 {"Content-Type": "application/pdf", "ETag": '"pdf-2"'}, True)
        third, ctx = _ingest(tmp_path, urls, routes)
    try:
        assert (first.indexed, first.failed) == (1, 0)
        assert (second.indexed, second.extracted, second.unchanged, second.failed) == (0, 0, 1, 0)
        asked = sorted((path, headers.get("If-None-Match")) for path, headers in second_hits if path != "/robots.txt")
        assert asked == [("/evaluations/food", '"page-1"'), (pdf_path, '"pdf-1"')]  # one request each, conditional
        assert (third.indexed, third.failed) == (1, 0)
        (doc_id,) = ctx.index.ids()
        text = ctx.index.get(doc_id).text
        assert "rooftop beekeeping circles" in text and PDF_ONLY not in text
        record = ctx.registry.get(urls[0])
        assert record.report.url == site.base_url + pdf_path and record.report.etag == '"pdf-2"'
    finally:
        ctx.close()
