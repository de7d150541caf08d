"""DOIs (issue 4, item 1): a document's own DOI from HTML metadata, XMP or a cue on a PDF's first
page, normalised; DOIs a page merely cites are not taken. Project-written inputs."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from extractors.doi import doi_in_text, normalise_doi
from extractors.html import extract_html
from extractors.pdf import extract_pdf

FILLER = "The study followed families over three years and compared outcomes across the two areas. " * 8


@pytest.mark.parametrize(("raw", "expected"), [
    ("10.1136/bmj.m1234", "10.1136/bmj.m1234"),
    ("doi:10.1000/XYZ-123.", "10.1000/XYZ-123"),
    ("https://doi.org/10.1016/S0140-6736(20)30183-5", "10.1016/S0140-6736(20)30183-5"),
    ("(see https://dx.doi.org/10.5555/abc.def),", "10.5555/abc.def"),
    ("ISBN 978-0-00-000000-0", None),
    (None, None),
])
def test_normalise_doi(raw, expected):
    assert normalise_doi(raw) == expected


def test_doi_in_text_needs_a_cue():
    assert doi_in_text("Research report\nDOI: 10.1234/rr.2024.7\nSummary") == "10.1234/rr.2024.7"
    assert doi_in_text("Findings\nSmith (2020) 10.1234/cited.1 found a fall") is None


def test_html_doi_from_metadata_not_from_citations():
    page = (f"<html><head><title>Family outcomes</title><meta name='citation_doi' content='doi:10.4321/fo.2023.11'>"
            f"</head><body><main><h1>Family outcomes</h1><p>{FILLER}</p><p>After Jones (2019), "
            f"https://doi.org/10.9999/cited.5.</p></main></body></html>")
    doc = extract_html(page.encode(), url="https://example.org/fo")
    assert doc.doi == "10.4321/fo.2023.11" and doc.provenance["doi"].source == "meta_citation_doi"
    cites_only = page.replace("<meta name='citation_doi' content='doi:10.4321/fo.2023.11'>", "")
    assert extract_html(cites_only.encode(), url="https://example.org/fo").doi is None


def test_pdf_doi_from_the_first_page():
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Family outcomes study", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 8, "https://doi.org/10.4321/fo.2023.11", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, FILLER, new_x="LMARGIN", new_y="NEXT")
    doc = extract_pdf(bytes(pdf.output()))
    assert doc.doi == "10.4321/fo.2023.11" and doc.provenance["doi"].source == "pdf_first_page_text"


def test_xmp_doi():
    from extractors.xmp import parse_xmp

    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description rdf:about="" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/">'
              '<prism:doi>10.4321/fo.2023.11</prism:doi></rdf:Description></rdf:RDF></x:xmpmeta>')
    assert parse_xmp(packet.encode()).doi == "10.4321/fo.2023.11"
