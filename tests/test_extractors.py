"""Extraction over real files: the demo's PDFs and pages, the corpus' hard cases, the cases."""

from __future__ import annotations

import json

import pytest

from demo.build import build_site
from demo.content import POSTS, REPORTS
from extractors import ExtractionError, extract, sniff_kind
from extractors.html import decode_html
from extractors.isolation import ExtractionPool
from extractors.pdf import is_junk_title, pdf_date
from config.settings import ExtractionSettings


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-site")
    build_site(root)
    return root


def test_sniff_decides_by_bytes_not_name():
    assert sniff_kind(b"%PDF-1.7\n...", "text/html", "x.html") == "pdf"
    assert sniff_kind(b"\xef\xbb\xbf<!DOCTYPE html><html>", "application/pdf", "x.pdf") == "html"
    assert sniff_kind(b"\x89PNG\r\n", "image/png", "x.png") == "unknown"


def test_demo_pdf_title_authors_date_from_info(demo_site):
    report = REPORTS[0]
    doc = extract((demo_site / "reports" / f"{report.slug}.pdf").read_bytes(), url="http://h/r.pdf")
    assert doc.mime == "application/pdf"
    assert doc.title == report.title.replace("–", "-").replace("’", "'")
    assert doc.published_date == report.published
    assert doc.language == "en"
    assert doc.page_count == len(doc.pages) >= 2
    assert doc.provenance["title"].source == "pdf_info"
    assert doc.word_count > 1000


def test_demo_post_metadata(demo_site):
    post = POSTS[0]
    doc = extract((demo_site / "posts" / f"{post.slug}.html").read_bytes(), url=f"http://h/posts/{post.slug}.html")
    assert doc.title == post.title
    assert doc.published_date == post.published
    assert doc.publisher == "Northmoor Collaboration Observatory"
    assert doc.language == "en"
    assert doc.doc_type == "blog_post"
    assert "©" not in doc.text  # footer boilerplate left out


def test_case_006_bom_beats_header_and_meta(cases_dir):
    case = cases_dir / "006-html-bom-vs-header-charset"
    body = (case / "page.html.body").read_bytes()
    header = json.loads((case / "response.json").read_text())["headers"]["Content-Type"]
    text, encoding, how = decode_html(body, header)
    assert (encoding, how) == ("utf-8", "bom")
    assert not text.startswith("\ufeff")
    doc = extract(body, url="https://ru.example.org/hello", content_type=header)
    assert doc.title == "Привет"
    assert "Привет, мир!" in doc.text


def test_declared_charset_that_does_not_fit_is_ignored():
    body = '<html><head><meta charset="utf-8"><title>Café</title></head><body><p>Déjà vu à Paris</p></body></html>'
    text, encoding, how = decode_html(body.encode("cp1252"), "text/html; charset=utf-8")
    assert "Déjà vu" in text and how == "detected"


def test_legacy_page_declared_utf8_is_decoded(corpus_dir):
    data = (corpus_dir / "docs" / "archive-org-francais-travaillent-trop-peu-fr.html").read_bytes()
    doc = extract(data, url="x.html", content_type="text/html; charset=utf-8")
    assert doc.title == "Les Français travaillent-ils trop peu ?"
    assert doc.language == "fr"
    assert "\ufffd" not in doc.text and "mojibake" not in doc.quality.flags


def test_case_013_cid_glyphs_never_become_text(cases_dir):
    data = (cases_dir / "013-pdf-cid-font-without-tounicode" / "cid_no_tounicode.pdf").read_bytes()
    with pytest.raises(ExtractionError, match=r"no Unicode mapping.*\(cid:N\)"):
        extract(data, url="x.pdf")


@pytest.mark.parametrize("name, reason", [
    ("password-example.pdf", "encrypted PDF: it needs a password"),
])
def test_corpus_broken_pdfs_fail_with_reasons(corpus_dir, name, reason):
    with pytest.raises(ExtractionError, match=reason):
        extract((corpus_dir / "docs" / name).read_bytes(), url=name)


def test_scanned_pdf_without_ocr_is_kept_as_metadata_only(corpus_dir):
    doc = extract((corpus_dir / "docs" / "scanned-huckleberry-finn-p22.pdf").read_bytes(), url="scan.pdf")
    assert doc.word_count == 0 and doc.page_count == 1 and doc.quality.score == 0.0
    assert {"no_text_layer", "metadata_only"} <= set(doc.quality.flags)
    assert doc.provenance["text"].confidence == 0.0


def test_html_saved_as_pdf_is_read_as_html(corpus_dir):
    # the corpus's .pdf is an HTML "Report not found" page: read as HTML, and refused as a soft 404
    with pytest.raises(ExtractionError, match="^soft 404: the page says 'Report not found - Find an Inspection"):
        extract((corpus_dir / "docs" / "ofsted-ilacs-blackpool-2012-07-13.pdf").read_bytes(), url="x.pdf")
    page = ("<html><head><title>Annual review</title></head><body><main><h1>Annual review</h1>"
            + "<p>The trust supported more families this year than in any year before it.</p>" * 5
            + "</main></body></html>")
    doc = extract(page.encode(), url="https://example.org/annual-review.pdf", content_type="application/pdf")
    assert doc.mime == "text/html" and doc.title == "Annual review"


def test_unsupported_and_empty_content():
    with pytest.raises(ExtractionError, match="empty body"):
        extract(b"")
    with pytest.raises(ExtractionError, match="neither PDF nor HTML"):
        extract(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, content_type="image/png")


def test_junk_titles_and_pdf_dates():
    for junk in ("Microsoft Word - draft3.docx", "Untitled", "10811.exe", "report.pdf", "1234"):
        assert is_junk_title(junk), junk
    assert not is_junk_title("Local offer guidance")
    assert str(pdf_date("D:20240516093000+01'00'")) == "2024-05-16"
    assert pdf_date("D:00000000") is None and pdf_date(None) is None


def test_isolation_pool_reports_bad_file_and_survives(demo_site):
    with ExtractionPool(ExtractionSettings(workers=1, timeout_s=30)) as pool:
        with pytest.raises(ExtractionError, match="malformed PDF"):
            pool.result(pool.submit(b"%PDF-1.4\n garbage garbage", url="bad.pdf"))
        doc = pool.result(pool.submit((demo_site / "posts" / f"{POSTS[1].slug}.html").read_bytes(), url="p.html"))
        assert doc.title == POSTS[1].title


def test_isolation_pool_reads_pdfs_with_the_configured_engine(demo_site):
    data = next((demo_site / "reports").glob("*.pdf")).read_bytes()
    for engine, source in (("pdfminer", "pdfminer_layout"), ("pdfium", "pdfium")):
        with ExtractionPool(ExtractionSettings(workers=1, timeout_s=60, pdf_text=engine)) as pool:
            doc = pool.result(pool.submit(data, url="r.pdf"))
        assert doc.provenance["text"].source == source
    with pytest.raises(ValueError, match="pdf_text"):
        ExtractionSettings(pdf_text="mupdf")


def test_isolation_pool_kills_a_stuck_extraction():
    with ExtractionPool(ExtractionSettings(workers=1, timeout_s=0.05)) as pool:
        big = ("<html><body>" + "<p>word " * 200000 + "</body></html>").encode()
        with pytest.raises(ExtractionError, match="longer than 0.05 s; worker killed"):
            pool.result(pool.submit(big, url="slow.html"))


NEWS_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Ferry strike ends</title>
<meta property="og:type" content="article">
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "WebPage", "mainEntity": {"@type": ["CreativeWork", "NewsArticle"], "headline": "Ferry strike ends"}},
  {"@type": "Organization", "name": "Harbour Gazette"}]}</script>
<script type="application/ld+json">{ not json at all </script>
</head><body><article itemscope itemtype="https://schema.org/ImageObject"><h1>Ferry strike ends</h1>
<p>The ferry strike ended on Monday after the operator and the crews agreed a new timetable, and
passengers in every coastal village can travel again from Tuesday morning, the council said.</p>
</article></body></html>"""


def test_schema_org_types_come_from_json_ld_at_any_depth_and_microdata():
    from extractors.html_tree import parse_html, schema_org_types

    assert schema_org_types(parse_html(NEWS_PAGE)) == {"webpage", "creativework", "newsarticle", "organization",
                                                       "imageobject"}
    assert schema_org_types(parse_html("<html><body><p>plain</p></body></html>")) == frozenset()
    # a JSON-LD block nested deeper than the JSON decoder goes is skipped, not the page's end
    deep = NEWS_PAGE.replace("{ not json at all ", "[" * 200_000 + "]" * 200_000)
    assert deep != NEWS_PAGE
    assert "newsarticle" in schema_org_types(parse_html(deep))
    assert extract(deep.encode(), url="https://gazette.example/2024/ferry", content_type="text/html").doc_type == "news"


def test_doc_type_reads_schema_org_types_after_title_and_url_cues():
    from extractors.doctype import guess_doc_type

    # og:type "article" says nothing (GOV.UK guidance pages use it too); NewsArticle does
    doc = extract(NEWS_PAGE.encode(), url="https://gazette.example/2024/ferry", content_type="text/html")
    assert doc.doc_type == "news"
    assert guess_doc_type(url="https://x.example/p", title="A post", mime="text/html",
                          schema_types=frozenset({"blogposting"})) == "blog_post"
    assert guess_doc_type(url="https://x.example/d", title="Passport figures", mime="text/html",
                          schema_types=frozenset({"dataset"})) == "data"
    # a cue in the title still wins: an evaluation reported as news is an evaluation
    assert guess_doc_type(url="https://x.example/n", title="Evaluation of the ferry pilot", mime="text/html",
                          schema_types=frozenset({"newsarticle"})) == "evaluation"
