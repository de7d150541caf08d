"""The one lxml tree the HTML extractor reads a page's metadata from (extractors/html_tree.py):
what it parses, what text it gives, and pages that used to need BeautifulSoup's leniency."""

from __future__ import annotations

import pytest

from extractors.base import ExtractionError
from extractors.html import extract_html
from extractors.html_tree import element_text, parse_html


@pytest.mark.parametrize("page", ["", "   \n\t "])
def test_an_empty_page_has_no_tree_and_is_a_clear_error(page):
    assert parse_html(page) is None
    with pytest.raises(ExtractionError, match="no readable text"):
        extract_html(page.encode())


def test_an_xml_declared_page_is_parsed_from_its_bytes():
    """lxml refuses a str with an XML encoding declaration; the page is still read."""
    page = ("<?xml version='1.0' encoding='utf-8'?><html xmlns='http://www.w3.org/1999/xhtml'><head>"
            "<title>Fostering review 2023 | Example Council</title></head><body><h1>Fostering review 2023</h1>"
            + "<p>The review looked at placements, carers' pay and how referrals were handled.</p>" * 5
            + "</body></html>")
    root = parse_html(page)
    assert root is not None and element_text(next(root.iter("title"))) == "Fostering review 2023 | Example Council"
    doc = extract_html(page.encode(), url="https://example.org/fostering")
    assert doc.title == "Fostering review 2023"
    assert "carers' pay" in doc.pages[0].text


def test_element_text_leaves_out_scripts_styles_templates_and_comments():
    root = parse_html("<html><body><h1>Annual <b>report</b><script>var x = 1;</script><style>h1{}</style>"
                      "<template>tmpl</template><!-- note --> 2024</h1></body></html>")
    h1 = next(root.iter("h1"))
    assert element_text(h1) == "Annual report 2024"
    assert element_text(h1, "|") == "Annual|report|2024"


def test_a_page_with_nul_bytes_and_control_characters_still_gives_its_text():
    page = ("<html><head><title>Youth\x00 services</title></head><body>"
            + "<p>Youth clubs\x01 reopened in every ward after the council pooled its grants.</p>" * 6
            + "</body></html>")
    doc = extract_html(page.encode(), url="https://example.org/youth")
    assert "Youth clubs" in doc.pages[0].text and doc.title


def test_the_fallback_text_of_a_listing_page_skips_scripts_and_keeps_link_text():
    """trafilatura finds no main text in a short listing; the whole-page fallback gives its links'
    text, without what scripts, styles and svg icons hold."""
    links = "".join(f"<li><a href='/r/{i}'>Family hubs wave {i}</a></li>" for i in range(12))
    page = (f"<html><head><title>Publications</title><script>window.x = 'tracking';</script></head><body>"
            f"<nav><svg><title>icon</title></svg><ul>{links}</ul></nav><style>.a{{}}</style></body></html>")
    doc = extract_html(page.encode(), url="https://example.org/publications")
    text = doc.pages[0].text
    assert doc.provenance["text"].source == "page_full_text"
    assert "wave 11" in text and "tracking" not in text and "icon" not in text


# Found by a differential run against the BeautifulSoup version (2,824 inputs): each holds the
# old behaviour the lxml tree first lost.
URL = "https://example.org/r/page"


@pytest.mark.parametrize("page, text", [
    (b"<p>a<script></script>\x0c</p>", "a"),  # a control character beside a dropped tag (was ValueError)
    (b"<p>Page 1 of 2\x0c<style>p{}</style>Page 2 of 2</p>", "Page 1 of 2\n\nPage 2 of 2"),
    (b"<p>one<script>x</script>two</p>", "one\ntwo"),  # text either side of a dropped tag stays apart
    (b"<p>Foo<!-- -->Bar</p>", "Foo\nBar"),  # a comment separates text (React's <!-- --> markers)
    (b"<p>\xe6\xbc\xa2<rt>kan</rt>\xe5\xad\x97</p>", "\u6f22\n\u5b57"),  # ruby annotations are not text
    (b"<html><body><p>x</p></html><p>rest of page</p>", "x\nrest of page"),  # after a premature </html>
])
def test_fallback_text_splits_and_skips_as_before(page, text):
    assert extract_html(page, url=URL).pages[0].text == text


def test_what_follows_the_closing_html_tag_is_still_read():
    late = extract_html(b"<html><body><p>x</p></body></html><meta name='citation_doi' content='10.1000/after'>"
                        b"<title>Late</title>", url=URL)
    assert late.doi == "10.1000/after" and late.title == "Late"
    with pytest.raises(ExtractionError, match="soft 404"):
        extract_html(b"<html><body><p>short</p></body></html><h1>Page not found</h1>", url=URL)


@pytest.mark.parametrize("page, report", [
    (b'<a href="/a.pdf">Down<!-- -->load</a><a href="/b.pdf">b</a>', None),  # "Down load" says nothing
    (b'<a href="/a.pdf">Full<svg></svg>report</a><a href="/b.pdf">b</a>', "https://example.org/a.pdf"),
    (b'<a href="/a.pdf">Get<rt>download</rt></a><a href="/b.pdf">b</a>', None),
])
def test_link_labels_read_as_before(page, report):
    assert extract_html(page, url=URL).report_url == report


@pytest.mark.parametrize("page", [b"<h1>Page<!-- -->not found</h1>", b"<h1>Page not found<rt>x</rt></h1>"])
def test_soft_404_headings_read_as_before(page):
    with pytest.raises(ExtractionError, match="soft 404"):
        extract_html(page, url=URL)


def test_nesting_to_two_thousand_levels_keeps_the_rest_of_the_page():
    page = b"<title>x</title>" + b"<div>" * 1500 + b"<p>kept text</p><a href='/r.pdf'>r</a>"
    doc = extract_html(page, url=URL)
    assert "kept text" in doc.pages[0].text and doc.report_url == "https://example.org/r.pdf"


def test_a_page_of_many_comment_separated_words_is_read_in_one_walk():
    """200,000 words split by React-style <!-- --> markers: each is a string of its own (an XPath
    text() query took minutes on this page)."""
    page = "<html><body><div>" + "word<!-- -->" * 200_000 + "</div></body></html>"
    root = parse_html(page)
    assert element_text(root).split() == ["word"] * 200_000


def test_text_straight_after_the_closing_html_tag_is_kept():
    sentences = " ".join(f"The council published its evidence review number {i}." for i in range(40))
    doc = extract_html(f"<html><head><title>Report</title></head><body><p>Annual review</p></body></html>{sentences}"
                       .encode(), url=URL)
    assert "evidence review number 39" in doc.pages[0].text


def test_a_title_or_link_inside_a_template_is_not_text():
    root = parse_html("<html><body><template><h1>Hidden heading</h1></template><rt><a href='/x.pdf'>pdf</a></rt></body></html>")
    assert element_text(next(root.iter("h1"))) == "" and element_text(next(root.iter("a"))) == ""
