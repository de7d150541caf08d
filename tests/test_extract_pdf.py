"""PDF extraction kinds behind issue 4: broken xref chains (case 010), unmapped glyphs (case 013),
image-only pages and OCR, running headers/footers, text quality flags. Real files from ../shared."""

from __future__ import annotations

import os
import shutil

import pytest

from extractors import ExtractionError, extract
from extractors.pdf import count_page_objects
from extractors.text import normalise_text, strip_running_lines, text_quality

CASE_010 = "010-pdf-xref-sections-without-startxref/missing_xref_trailer.pdf"


def test_case_010_pages_behind_a_broken_xref_chain_are_recovered(cases_dir):
    data = (cases_dir / CASE_010).read_bytes()
    assert count_page_objects(data) == 4
    doc = extract(data, url="https://example.org/missing_xref_trailer.pdf")
    assert doc.page_count == 4
    assert [page.text for page in doc.pages] == ["Page1", "Page2", "Page3", "Page4"]
    assert [page.number for page in doc.pages] == [1, 2, 3, 4]
    assert "xref_recovered" in doc.quality.flags
    assert "partial_extraction" not in doc.quality.flags


def test_case_010_kind_unrecoverable_page_is_flagged_partial(cases_dir):
    # the same file with page 1's object header broken (same length): no reader reaches it,
    # but the page tree's /Count still says 4, so the document is flagged, not indexed as whole
    data = (cases_dir / CASE_010).read_bytes().replace(b"3 0 obj", b"3 0 xbj", 1)
    doc = extract(data, url="x.pdf")
    assert [page.text for page in doc.pages] == ["Page2", "Page3", "Page4"]
    assert doc.page_count == 4
    assert "partial_extraction" in doc.quality.flags
    assert doc.quality.score <= 0.7


def test_case_013_unmapped_glyphs_fail_clearly_even_with_ocr(cases_dir):
    data = (cases_dir / "013-pdf-cid-font-without-tounicode" / "cid_no_tounicode.pdf").read_bytes()
    with pytest.raises(ExtractionError, match=r"no Unicode mapping.*\(cid:N\)"):
        extract(data, url="x.pdf")
    if shutil.which("tesseract"):
        # no page image and no font program: OCR has nothing to read, still a clear failure
        with pytest.raises(ExtractionError, match="OCR found no text"):
            extract(data, url="x.pdf", ocr=True)


def _need_tesseract():
    if shutil.which("tesseract") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tesseract is missing; CI must install Debian's tesseract-ocr (apt-get install tesseract-ocr)")
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr); OCR tests skipped")


def test_scanned_pdf_is_read_by_ocr_when_enabled(corpus_dir):
    _need_tesseract()
    data = (corpus_dir / "docs" / "scanned-huckleberry-finn-p22.pdf").read_bytes()
    assert "metadata_only" in extract(data, url="scan.pdf").quality.flags  # OCR off
    doc = extract(data, url="scan.pdf", ocr=True)
    assert doc.page_count == 1
    assert "ocr" in doc.quality.flags
    assert doc.provenance["text"].source == "tesseract_ocr"
    text = doc.text.lower()
    for phrase in ("widow", "garden", "kitchen", "miss watson"):
        assert phrase in text, phrase
    assert doc.word_count > 100
    assert doc.language == "en"


def test_corpus_pdfs_never_carry_cid_codes(corpus_dir):
    for name in ("collab-haringey-safeguarding-progress-inspection-2009-07-03.pdf",
                 "federal-register-2020-17221.pdf"):
        doc = extract((corpus_dir / "docs" / name).read_bytes(), url=name)
        assert "(cid:" not in doc.text and "cid" not in doc.text.lower().split()


def test_running_headers_footers_and_page_numbers_removed():
    bodies = ["Partnership boards met monthly.", "Pooled budgets were agreed.", "Data was shared weekly.",
              "Staff were co-located.", "Families had one key worker.", "Outcomes improved."]
    pages = [f"Annual Report 2023\n{bodies[n]}\n{bodies[n + 1]}\n{bodies[(n + 3) % 6]}\nPage {n + 1} of 4"
             for n in range(4)]
    cleaned, removed = strip_running_lines(pages)
    assert removed == 8
    assert cleaned[0] == "Partnership boards met monthly.\nPooled budgets were agreed.\nStaff were co-located."
    assert all("Annual Report" not in page and "Page" not in page for page in cleaned)
    # a bare page number goes even on a short document; body lines stay
    assert strip_running_lines(["Intro text\n12"]) == (["Intro text"], 1)


def test_running_lines_removed_from_a_real_report(corpus_dir):
    doc = extract((corpus_dir / "docs" / "collab-covid-inquiry-module1-report.pdf").read_bytes(), url="r.pdf")
    edges = [line for page in doc.pages[5:40] for line in (page.text.split("\n")[:1] + page.text.split("\n")[-1:])]
    # plain pdfminer.six leaves a bare page number at the foot of 17 of these 35 pages
    assert len([line for line in edges if line.strip().isdigit()]) <= 5


def test_ligatures_hyphenation_and_compatibility_characters():
    assert normalise_text("ef\ufb01cient o\ufb03ce \ufb02ow") == "efficient office flow"
    assert normalise_text("multi-agency work-\ning together") == "multi-agency working together"
    assert normalise_text("(cid:12)(cid:13) word") == "word"


def test_control_and_format_characters_go_and_other_characters_stay():
    """Category C characters (controls, soft hyphens, zero-width spaces, private use, unassigned)
    are dropped; tabs, line breaks and every other character stay (text without a control
    character takes a fast path that must keep the same result)."""
    assert normalise_text("a\x00b\u00adc\u200bd\ue000e\U0010fffe f") == "abcde f"
    assert normalise_text("child\x07ren\tin care\nrates") == "children in care\nrates"
    assert normalise_text("tiếng Việt, 日本語, Ελληνικά") == "tiếng Việt, 日本語, Ελληνικά"
    assert normalise_text("line one\u2028line two") == "line one\u2028line two"  # a separator, not a control


def test_text_quality_flags():
    assert text_quality("") == (0.0, ["empty_text_layer"])
    assert text_quality("A plain English sentence about services.") == (1.0, [])
    score, flags = text_quality("Le cafÃ© Ã©tait dÃ©jÃ  fermÃ©, câ€™est la vie. " * 3)
    assert "mojibake" in flags and score <= 0.7
    score, flags = text_quality("Hello", raw="(cid:1)(cid:2)(cid:3)Hello")
    assert "unmapped_glyphs" in flags and score < 0.3
    score, flags = text_quality("12 34 56 78 90 11 12 13 ab")
    assert "low_letter_ratio" in flags and score < 1.0


# --- the PDFium text engine (extraction.pdf_text: pdfium) ----------------------------------

def _words(doc) -> set[str]:
    return set(" ".join(page.text for page in doc.pages).lower().split())


def _metadata(doc) -> tuple:
    return (doc.title, doc.authors, doc.publisher, doc.doi, doc.published_date, doc.language, doc.page_count,
            {name: p.source for name, p in doc.provenance.items() if name != "text"})


def test_pdfium_engine_reads_the_demo_reports_like_pdfminer():
    from demo.build import render_report_pdf, to_pdf_text
    from demo.content import DOCUMENTS

    reports = [document for document in DOCUMENTS if document.kind == "report"]
    assert reports
    for document in reports:
        data = render_report_pdf(document)
        plain = extract(data, url="https://example.org/r.pdf", pdf_text="pdfminer")
        fast = extract(data, url="https://example.org/r.pdf")  # the default engine
        assert plain.provenance["text"].source == "pdfminer_layout"
        assert fast.provenance["text"].source == "pdfium"
        assert _metadata(fast) == _metadata(plain)
        assert fast.title == to_pdf_text(document.title)
        assert len(fast.pages) == len(plain.pages)
        assert _words(fast) == _words(plain)  # running footers stripped alike


@pytest.mark.parametrize("name", [
    "collab-gm-legislative-theatre-evaluation.pdf",
    "nics-background-checks-2015-11-rotated.pdf",  # a turned table: PDFium reads its rows first
    "federal-register-2020-17221.pdf",
    "collab-ofsted-jtai-bexley-2020-03-06.pdf",
    # composite fonts without /ToUnicode whose text is still known: an embedded Wingdings program,
    # Adobe's GB1 collection (a first version of the unmapped-font check sent both to pdfminer)
    "collab-haringey-safeguarding-progress-inspection-2009-07-03.pdf",
    "collab-derbyshire-homelessness-strategy-2022-2027.pdf",
])
def test_pdfium_engine_keeps_pdfminer_metadata_on_real_reports(corpus_dir, name):
    data = (corpus_dir / "docs" / name).read_bytes()
    plain = extract(data, url=name, pdf_text="pdfminer")
    fast = extract(data, url=name, pdf_text="pdfium")
    assert fast.provenance["text"].source == "pdfium"
    assert _metadata(fast) == _metadata(plain)
    overlap = len(_words(fast) & _words(plain)) / len(_words(fast) | _words(plain))
    assert overlap >= 0.95, overlap
    assert not any("\ufffe" in page.text for page in fast.pages)  # PDFium's end-of-line hyphen mark


def test_pdfium_engine_falls_back_to_pdfminer_where_pdfium_would_read_wrong_text(cases_dir):
    # case 013: PDFium reads the unmapped glyphs as shifted letters ("+HOORZRUOG"); the engines
    # disagree, so pdfminer's (cid:N) reading and its clear error stand
    data = (cases_dir / "013-pdf-cid-font-without-tounicode" / "cid_no_tounicode.pdf").read_bytes()
    with pytest.raises(ExtractionError, match=r"no Unicode mapping.*\(cid:N\)"):
        extract(data, url="x.pdf", pdf_text="pdfium")
    # case 010: pdfminer's own recovery of pages behind the broken xref chain is kept
    doc = extract((cases_dir / CASE_010).read_bytes(), url="x.pdf", pdf_text="pdfium")
    assert [page.text for page in doc.pages] == ["Page1", "Page2", "Page3", "Page4"]
    assert "xref_recovered" in doc.quality.flags


def test_pdfium_engine_keeps_pdfminer_errors_and_metadata_only(corpus_dir):
    docs = corpus_dir / "docs"
    with pytest.raises(ExtractionError, match="needs a password"):
        extract((docs / "password-example.pdf").read_bytes(), url="p.pdf", pdf_text="pdfium")
    scanned = extract((docs / "scanned-huckleberry-finn-p22.pdf").read_bytes(), url="s.pdf", pdf_text="pdfium")
    assert "metadata_only" in scanned.quality.flags
    with pytest.raises(ValueError, match="unknown PDF text engine 'mupdf'"):
        extract((docs / "password-example.pdf").read_bytes(), url="p.pdf", pdf_text="mupdf")


def test_engines_agree_measures_word_overlap():
    from extractors.pdf import engines_agree

    assert engines_agree(["Hello world"], ["hello  World"]) == 1.0
    assert engines_agree([""], [""]) == 1.0
    assert engines_agree(["Hello world"], ["+HOORZRUOG"]) == 0.0
    assert engines_agree(["a b c d"], ["a b c e"]) == pytest.approx(3 / 5)


def _demo_report_pdf() -> bytes:
    from demo.build import render_report_pdf
    from demo.content import DOCUMENTS

    return render_report_pdf(next(d for d in DOCUMENTS if d.kind == "report"))


def _joined(*parts: bytes) -> bytes:
    """One PDF holding the pages of ``parts`` in order (pypdfium2's page import)."""
    import io

    import pypdfium2

    joined = pypdfium2.PdfDocument.new()
    for data in parts:
        joined.import_pages(pypdfium2.PdfDocument(data))
    out = io.BytesIO()
    joined.save(out)
    return out.getvalue()


def test_pdfium_engine_never_reads_unmapped_glyphs_on_later_pages(cases_dir):
    # found by a break-it run: the agreement check saw only the first 4 pages, so a page 5+ set in
    # a font without a Unicode map was indexed as PDFium's shifted letters with quality 1.0
    report = _demo_report_pdf()
    cid_page = (cases_dir / "013-pdf-cid-font-without-tounicode" / "cid_no_tounicode.pdf").read_bytes()
    data = _joined(report, report, cid_page)
    plain = extract(data, url="x.pdf", pdf_text="pdfminer")
    fast = extract(data, url="x.pdf", pdf_text="pdfium")
    assert len(fast.pages) > 4
    assert fast.provenance["text"].source == "pdfminer_layout"
    assert {"cid_glyphs", "unmapped_glyphs"} & set(fast.quality.flags) and fast.quality.score < 1
    assert [p.text for p in fast.pages] == [p.text for p in plain.pages]
    assert "HOORZRUOG" not in " ".join(p.text for p in fast.pages)


def test_pdfium_engine_falls_back_when_pdfium_counts_other_pages():
    # found by a break-it run: PDFium believes a /Count that is too small (pdfminer walks the kids)
    data = _joined(_demo_report_pdf(), _demo_report_pdf())
    plain = extract(data, url="x.pdf", pdf_text="pdfminer")
    pages = len(plain.pages)
    assert pages >= 2 and f"/Count {pages}".encode() in data
    broken = data.replace(f"/Count {pages}".encode(), b"/Count 1" + b" " * (len(str(pages)) - 1), 1)
    fast = extract(broken, url="x.pdf", pdf_text="pdfium")
    assert fast.provenance["text"].source == "pdfminer_layout"
    assert len(fast.pages) == pages


def _page_tree_dag(levels: int, fan_out: int) -> bytes:
    """A PDF of one page object listed ``fan_out ** levels`` times through nested /Pages nodes."""
    content = b"BT /F1 12 Tf 72 720 Td (The evaluation of the strategy was carried out in 2023.) Tj ET"
    objects = {1: b"<< /Type /Catalog /Pages %d 0 R >>" % (3 + levels),
               2: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
               3: b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> "
                  b"/Contents 2 0 R >>" % (4 + levels),
               4 + levels: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    for level in range(1, levels + 1):
        parent = b"/Parent %d 0 R " % (4 + level) if level < levels else b""
        objects[3 + level] = (b"<< /Type /Pages " + parent + b"/Kids [" + b" ".join([b"%d 0 R" % (2 + level)] * fan_out)
                              + b"] /Count %d >>" % fan_out ** level)
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_page_tree_listing_one_page_a_million_times_is_read_at_once():
    # found by a break-it run: PDFium counts 1,000,000 pages in this 2.7 KB file and read them all
    # until the worker's deadline; pdfminer visits the page once, and the counts now disagree first
    import pypdfium2

    data = _page_tree_dag(3, 100)
    assert len(pypdfium2.PdfDocument(data)) == 1_000_000
    doc = extract(data, url="dag.pdf", pdf_text="pdfium")
    assert doc.provenance["text"].source == "pdfminer_layout"
    assert "evaluation of the strategy" in doc.pages[0].text


def test_pdfium_line_end_hyphens_are_joined_as_in_pdfminer_text():
    from extractors.pdf import pdfium_page_texts

    data = _demo_report_pdf()
    texts = pdfium_page_texts(data, len(extract(data, url="r.pdf", pdf_text="pdfminer").pages))
    assert texts and not any("\ufffe" in text for text in texts)
    assert normalise_text("pre-\nCOVID and evalu-\nation and 2023-\n24") == "pre-\nCOVID and evaluation and 2023-\n24"
    assert pdfium_page_texts(data, 999) is None  # another page count: not read
