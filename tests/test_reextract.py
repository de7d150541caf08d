"""Switching the PDF text engine (``extraction.pdf_text``) re-reads the PDFs already indexed on the
next ingest, even though their bytes did not change; HTML is left alone, and a run that reached only
some of the PDFs is finished by the next one. Real HTTP on 127.0.0.1 (conditional GETs with ETags),
real PDFs and HTML, the real pipeline and model."""

from __future__ import annotations

from config import load_settings
from config.sources import Source, SourceLimits
from core.models import document_id
from extractors.base import extraction_fingerprint, extraction_outdated
from tests.sites import Route, RoutedSite
from tests.test_landing_fusion import _landing, _report_pdf

HTML = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Harbour ferries blog</title></head>
<body><main><h1>What we learned running harbour ferries</h1>
<p>Our volunteers kept the harbour ferries running through the winter, and passengers told us
which timetables worked for them and which did not. This post sets out what changed after that.</p>
</main></body></html>"""


def _routes() -> dict[str, Route]:
    def pdf(words: str) -> Route:
        return Route(200, _report_pdf(words), {"Content-Type": "application/pdf", "ETag": f'"{words[:5]}"'},
                     conditional=True)

    return {
        "/a.pdf": pdf("coastal ferry timetables"),
        "/b.pdf": pdf("inland canal moorings"),
        "/evaluations/food": Route(200, _landing("/files/food-evaluation.pdf"),
                                   {"Content-Type": "text/html; charset=utf-8", "ETag": '"page"'}, conditional=True),
        "/files/food-evaluation.pdf": pdf("tidal allotment cooperatives"),
        "/blog/ferries": Route(200, HTML, {"Content-Type": "text/html; charset=utf-8", "ETag": '"blog"'},
                               conditional=True),
    }


def _ingest(tmp_path, urls: list[str], pdf_text: str, max_documents: int = 500, **extraction):
    from flows.context import HubContext
    from flows.ingest import run_ingest

    settings = load_settings(home=str(tmp_path / "hub"), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0},
                             extraction={"pdf_text": pdf_text, **extraction})
    source = Source(name="site", kind="urls", urls=urls, limits=SourceLimits(max_documents=max_documents))
    summary = run_ingest([source], settings)
    return summary, HubContext(settings)


def _indexed_with_pdfium(tmp_path, urls: list[str]) -> None:
    """The first run: every URL indexed, PDFs read by PDFium."""
    summary, ctx = _ingest(tmp_path, urls, "pdfium")
    ctx.close()
    assert (summary.indexed, summary.failed) == (len(urls), 0), summary.failures


def _engines(ctx, urls: list[str]) -> dict[str, str]:
    """URL -> the engine that read its stored text (provenance text source; a fused landing page's
    is its report's, written ``report_pdf:<engine>``)."""
    return {url: ctx.index.get(document_id(url)).provenance["text"].source.removeprefix("report_pdf:")
            for url in urls}


def test_fingerprint_names_only_what_a_setting_changes():
    assert extraction_fingerprint("application/pdf", "pdfium") == "pdf_text=pdfium"
    assert extraction_fingerprint("text/html", "pdfium") == extraction_fingerprint("application/x-ndjson", "x") == ""
    assert extraction_outdated("pdf_text=pdfminer", "pdfium") and not extraction_outdated("pdf_text=pdfium", "pdfium")
    # HTML, and registries written before fingerprints were kept, are never read again for this
    assert not extraction_outdated("", "pdfminer") and not extraction_outdated(None, "pdfminer")


def test_switching_the_pdf_engine_rereads_pdfs_once_and_leaves_html(tmp_path):
    routes = _routes()
    with RoutedSite(routes) as site:
        base = site.base_url
        pdfs, page, blog = [base + "/a.pdf", base + "/b.pdf"], base + "/evaluations/food", base + "/blog/ferries"
        urls = [*pdfs, page, blog]

        summary, ctx = _ingest(tmp_path, urls, "pdfium")
        try:
            assert (summary.indexed, summary.failed) == (4, 0), summary.failures
            assert _engines(ctx, [*pdfs, page]) == dict.fromkeys([*pdfs, page], "pdfium")
            assert [ctx.registry.get(u).extracted_with for u in urls] == ["pdf_text=pdfium"] * 3 + [""]
        finally:
            ctx.close()

        summary, ctx = _ingest(tmp_path, urls, "pdfium")  # same settings: all conditional, nothing read
        ctx.close()
        assert (summary.indexed, summary.unchanged, summary.not_modified) == (0, 4, 4), summary

        # the engine switched, and the run stops after the first 2 URLs (as a killed run would)
        summary, ctx = _ingest(tmp_path, urls, "pdfminer", max_documents=2)
        try:
            assert (summary.indexed, summary.failed) == (2, 0), summary.failures
            engines = _engines(ctx, [*pdfs, page])
            assert engines == {pdfs[0]: "pdfminer_layout", pdfs[1]: "pdfminer_layout", page: "pdfium"}
        finally:
            ctx.close()

        site.hits.clear()
        summary, ctx = _ingest(tmp_path, urls, "pdfminer")  # finishes: the fused page only, not the blog post
        try:
            assert (summary.indexed, summary.unchanged, summary.failed) == (1, 3, 0), summary
            assert _engines(ctx, [*pdfs, page]) == dict.fromkeys([*pdfs, page], "pdfminer_layout")
            assert sorted(ctx.index.ids()) == sorted(document_id(u) for u in urls)  # replaced, not duplicated
            doc = ctx.index.get(document_id(page))
            assert "tidal allotment cooperatives" in doc.text and page in [doc.url, *doc.urls]
            assert [ctx.registry.get(u).extracted_with for u in urls] == ["pdf_text=pdfminer"] * 3 + [""]
            full = {path for path, headers in site.hits if "If-None-Match" not in headers}
            assert full == {"/evaluations/food", "/files/food-evaluation.pdf"}  # the blog post: a 304
        finally:
            ctx.close()

        summary, ctx = _ingest(tmp_path, urls, "pdfminer")  # and then nothing more
        ctx.close()
        assert (summary.indexed, summary.unchanged) == (0, 4), summary


def test_a_reread_that_fails_keeps_the_document_and_fails_again_until_it_succeeds(tmp_path):
    """From a break-it run: a PDF whose re-read failed (here: a deadline no extraction meets) was
    taken as unchanged on the next run, because only ``indexed`` records were checked for an
    outdated fingerprint, and failed again on the run after: failures came and went."""
    routes = _routes()
    with RoutedSite(routes) as site:
        url = site.base_url + "/a.pdf"
        _indexed_with_pdfium(tmp_path, [url])
        for _ in range(2):
            summary, ctx = _ingest(tmp_path, [url], "pdfminer", timeout_s=0.001)
            try:
                assert (summary.failed, summary.unchanged) == (1, 0), summary
                assert summary.failures[0].stage == "extract" and "longer than" in summary.failures[0].reason
                assert _engines(ctx, [url]) == {url: "pdfium"}  # the indexed document stands
                assert ctx.registry.get(url).extracted_with == "pdf_text=pdfium"
            finally:
                ctx.close()
        summary, ctx = _ingest(tmp_path, [url], "pdfminer")
        try:
            assert (summary.indexed, summary.failed) == (1, 0), summary.failures
            assert _engines(ctx, [url]) == {url: "pdfminer_layout"} and len(ctx.index.ids()) == 1
        finally:
            ctx.close()


def test_a_fused_page_whose_report_is_out_of_reach_during_a_reread_keeps_its_report_text(tmp_path):
    """From a break-it run: a re-read that found the landing page's report answering 404 replaced
    the fused document with the page alone, and the next run (page unchanged: 304) never looked
    at the report again. Now the re-read fails with the reason and the fused document stands."""
    routes = _routes()
    with RoutedSite(routes) as site:
        page = site.base_url + "/evaluations/food"
        _indexed_with_pdfium(tmp_path, [page])
        report = routes.pop("/files/food-evaluation.pdf")
        summary, ctx = _ingest(tmp_path, [page], "pdfminer")
        try:
            assert (summary.indexed, summary.failed) == (0, 1), summary
            assert "could not re-read the report" in summary.failures[0].reason
            assert "404" in summary.failures[0].reason
            doc = ctx.index.get(document_id(page))
            assert "tidal allotment cooperatives" in doc.text and _engines(ctx, [page]) == {page: "pdfium"}
        finally:
            ctx.close()
        routes["/files/food-evaluation.pdf"] = report
        summary, ctx = _ingest(tmp_path, [page], "pdfminer")
        try:
            assert (summary.indexed, summary.failed) == (1, 0), summary.failures
            doc = ctx.index.get(document_id(page))
            assert "tidal allotment cooperatives" in doc.text and _engines(ctx, [page]) == {page: "pdfminer_layout"}
            assert "landing_page_fused" in doc.quality.flags
        finally:
            ctx.close()
