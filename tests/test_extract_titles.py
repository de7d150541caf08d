"""Title and page-type rules found on the real corpus (issue 4), each held by a project-written
input: a centred title is not merged with the section heading set below it, text turned 90
degrees is read as lines (and its title found), a template meta title that only repeats the
site's description loses to the page's own ``<title>``, a one-word section title keeps its
site name, and an error page served with success (a soft 404) is a failure with its reason."""

from __future__ import annotations

from datetime import date

import pytest
from fpdf import FPDF

from extractors import ExtractionError
from extractors.html import extract_html
from extractors.pdf import extract_pdf

BODY = ("The partnership agreed a shared plan for the coming year, with named leads for housing, "
        "health and outreach work, and a review of progress every quarter with the people it serves. ") * 4


def _charter_pdf() -> bytes:
    """A charter whose centred bold title sits directly above a left-set bold heading of the same size."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Harbourside Homeless Charter", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, "Introduction", align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    pdf.multi_cell(0, 6, BODY, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _turned_table_pdf() -> bytes:
    """A landscape table set on a portrait page by turning the text 90 degrees clockwise."""
    pdf = FPDF()
    pdf.add_page()
    with pdf.rotation(-90, x=pdf.w / 2, y=pdf.h / 2):
        # in the turned frame, lay out as on a landscape page centred on the portrait one
        left, top = pdf.w / 2 - pdf.h / 2 + 15, pdf.h / 2 - pdf.w / 2 + 15
        pdf.set_xy(left, top)
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(200, 10, "Quarterly Referral Counts by Region", new_x="LEFT", new_y="NEXT")
        pdf.set_font("Helvetica", "", 12)
        pdf.cell(200, 8, "March 2024", new_x="LEFT", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        for region, count in [("Northern Coast", 120), ("Eastern Valley", 85), ("Western Hills", 64),
                              ("Southern Plains", 230), ("Central District", 148)] * 3:
            pdf.cell(200, 6, f"{region}    referrals received in the quarter    {count}", new_x="LEFT", new_y="NEXT")
    return bytes(pdf.output())


def test_centred_title_is_not_merged_with_the_heading_below():
    doc = extract_pdf(_charter_pdf())
    assert doc.title == "Harbourside Homeless Charter"
    assert doc.provenance["title"].source == "pdf_first_page_layout"


def test_text_turned_ninety_degrees_is_read_as_lines():
    doc = extract_pdf(_turned_table_pdf())
    lines = doc.pages[0].text.split("\n")
    assert "Quarterly Referral Counts by Region" in lines
    assert any(line.startswith("Southern Plains") for line in lines)
    assert doc.title.startswith("Quarterly Referral Counts by Region")
    assert doc.published_date == date(2024, 3, 1)


def _page(head: str, body: str) -> bytes:
    return f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>".encode()


ARTICLE = "<main><h1>{h1}</h1>" + "".join(f"<p>{BODY}</p>" for _ in range(3)) + "</main>"


def test_template_meta_title_loses_to_the_page_title():
    template = "Find a report and registered services"
    head = (f"<title>Annual review 2024 - Harbourside Trust</title><meta name='dc.title' content='{template}'>"
            f"<meta name='dc.description' content='{template}'>")
    doc = extract_html(_page(head, ARTICLE.format(h1="Annual review 2024")))
    assert doc.title == "Annual review 2024"
    # a meta title that is the page's own (not the description) still wins
    head = "<title>Home - Harbourside Trust</title><meta property='og:title' content='Annual review 2024'>"
    assert extract_html(_page(head, ARTICLE.format(h1="Welcome"))).title == "Annual review 2024"


@pytest.mark.parametrize(("title", "h1", "expected"), [
    ("Publications - GOV.UK", "Publications", "Publications - GOV.UK"),
    ("Annual review - GOV.UK", "Annual review", "Annual review"),
])
def test_one_word_section_titles_keep_their_site_name(title, h1, expected):
    assert extract_html(_page(f"<title>{title}</title>", ARTICLE.format(h1=h1))).title == expected


@pytest.mark.parametrize(("title", "h1"), [
    ("Page not found", "Page not found"),
    ("404 - Harbourside Trust", "Sorry"),
    ("404 Not Found", "Not Found"),
    ("Error 404 | Harbourside Trust", "Sorry"),
    ("Harbourside Trust", "The page you requested could not be found"),
    ("Report not found - Find a report - Harbourside Trust", "Report not found"),
])
def test_soft_404_pages_fail_with_the_reason(title, h1):
    body = f"<main><h1>{h1}</h1><p>Sorry, the document you asked for no longer exists. Go to our homepage " \
           "or use our search to find reports, letters and data about services in your area.</p></main>"
    with pytest.raises(ExtractionError, match=r"^soft 404: the page says .+ although the server answered with success"):
        extract_html(_page(f"<title>{title}</title>", body))


def test_a_long_document_about_things_not_found_is_not_a_soft_404():
    doc = extract_html(_page("<title>Not found: the evidence gap in rural transport</title>",
                             ARTICLE.format(h1="Not found: the evidence gap in rural transport")))
    assert doc.title == "Not found: the evidence gap in rural transport"


XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmp:CreateDate="2023-05-02T09:30:00+01:00">
<dc:title><rdf:Alt><rdf:li xml:lang="fr">Revue des bus ruraux</rdf:li><rdf:li xml:lang="x-default">Rural bus services review</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>Ada Moss</rdf:li><rdf:li>Ben Wade</rdf:li></rdf:Seq></dc:creator>
<dc:publisher><rdf:Bag><rdf:li>Harbourside Transport Trust</rdf:li></rdf:Bag></dc:publisher>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_xmp_metadata_fills_what_the_info_dictionary_lacks():
    pdf = FPDF()
    pdf.set_title("Microsoft Word - busreview_final2.docx")  # junk Info title, no Info author
    pdf.set_xmp_metadata(XMP)
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Rural bus services review. " + BODY, new_x="LMARGIN", new_y="NEXT")
    doc = extract_pdf(bytes(pdf.output()))
    assert doc.title == "Rural bus services review" and doc.provenance["title"].source == "pdf_xmp"
    assert doc.authors == ["Ada Moss", "Ben Wade"] and doc.provenance["authors"].source == "pdf_xmp"
    assert doc.publisher == "Harbourside Transport Trust"


def test_xmp_packets_broken_or_empty_give_nothing():
    from extractors.xmp import XmpMetadata, parse_xmp

    assert parse_xmp(b"") == XmpMetadata()
    assert parse_xmp(b"<x:xmpmeta><rdf:RDF><unclosed") == XmpMetadata()
    parsed = parse_xmp(XMP.encode())
    assert (parsed.title, parsed.created) == ("Rural bus services review", date(2023, 5, 2))


@pytest.mark.parametrize(("raw", "expected"), [
    ("Ofsted. enquiries@ofsted.gov.uk", "Ofsted"),
    ("  Harbourside   Trust | https://harbourside.example/ ", "Harbourside Trust"),
    ("Department for Education, tel. +44 370 000 2288", "Department for Education"),
    ("info@example.org", None),
    (None, None),
])
def test_publisher_names_lose_contact_details(raw, expected):
    from extractors.text import normalise_publisher

    assert normalise_publisher(raw) == expected


def test_html_publisher_is_normalised():
    head = "<title>Annual review 2024</title><meta property='og:site_name' content='Harbourside Trust. info@harbourside.example'>"
    assert extract_html(_page(head, ARTICLE.format(h1="Annual review 2024"))).publisher == "Harbourside Trust"


def test_meta_lookup_order_property_then_name_then_name_in_any_case():
    """The one-pass meta index keeps the lookup order of the tree searches it replaced: the first
    tag in document order whose property is the key, else whose name is, else whose name is in
    another case; an empty content is no value."""
    from extractors.html_tree import MetaTags, parse_html

    meta = MetaTags.of(parse_html('<html><head><meta name="og:title" content="by name">'
                         '<meta property="og:title" content=" by  property ">'
                         '<meta property="og:title" content="second property">'
                         '<meta name="DC.Title" content="any case"><meta name="dc.title" content="exact name">'
                         '<meta name="Description" content="  ">'
                         '</head><body><meta name="citation_doi" content="10.1/x"></body></html>'))
    assert meta.content("og:title") == "by property"
    assert meta.content("dc.title") == "exact name"
    assert meta.content("dc.TITLE") == "any case"  # no exact match: the first in any case
    assert meta.content("description") is None
    assert meta.content("citation_doi") == "10.1/x"
    assert meta.content("missing") is None


def test_control_characters_never_reach_a_title_author_or_publisher():
    # a break-it page: raw control bytes and a terminal escape in <title>; every export and the feed showed them
    head = ("<title>Control \x01\x02 \x1b[31m\x7f review</title><meta name='author' content='Ann\x00 Smith'>"
            "<meta name='dc.publisher' content='Harbour\x0bside\tTrust'>")
    doc = extract_html(_page(head, ARTICLE.format(h1="Something else entirely")))
    assert doc.title == "Control [31m review"
    assert all(name.isprintable() for name in doc.authors) and "Ann Smith" in doc.authors
    assert doc.publisher is None or doc.publisher.isprintable()
