"""A PDF's publisher from its own text when its metadata names none (issue 4, item 2):
"Published by ..." statements and "©" notices, Crown copyright skipped; the source's configured
publisher still beats a guess from the text. Project-written inputs."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from extractors.pdf import extract_pdf
from extractors.publisher import publisher_in_text

FILLER = "The review looked at how services worked together for families in the area. " * 10


@pytest.mark.parametrize(("text", "expected"), [
    ("Published by the Authority of the House of Lords\nLondon", ("House of Lords", "pdf_text_published_by")),
    ("This newsletter is published by Data to Insight; and should be of use", ("Data to Insight", "pdf_text_published_by")),
    ("© 2023 Harbourside Trust. All rights reserved", ("Harbourside Trust", "pdf_text_copyright")),
    ("Copyright © Social Research Unit 2021", ("Social Research Unit", "pdf_text_copyright")),
    ("© Crown copyright 2024\nThis publication is licensed", (None, "")),
    ("The report was published by researchers at two universities", (None, "")),
])
def test_publisher_in_text(text, expected):
    assert publisher_in_text([text], []) == expected


def test_publisher_from_the_colophon_on_the_last_page():
    pages = ["Cover", "Contents", "Summary", "Findings", "© Crown copyright 2022", "Published by Harbourside Council"]
    assert publisher_in_text(pages[:3], pages[3:]) == ("Harbourside Council", "pdf_text_published_by")


def test_pdf_publisher_from_its_text():
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Joint working review", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, FILLER + "\nPublished by Harbourside Council, March 2024.", new_x="LMARGIN", new_y="NEXT")
    doc = extract_pdf(bytes(pdf.output()))
    assert doc.publisher == "Harbourside Council"
    assert doc.provenance["publisher"].source == "pdf_text_published_by"


def test_configured_publisher_beats_a_guess_from_the_text_but_not_metadata():
    from config.sources import Source
    from core.models import ExtractedDocument, FieldProvenance, Page
    from flows.steps import Outcome, build_document

    source = Source(name="council", kind="urls", urls=["https://example.org/r.pdf"], publisher="Harbourside Council")

    def publisher(found: str, how: str) -> str | None:
        extracted = ExtractedDocument(mime="application/pdf", pages=[Page(number=1, text=FILLER)], publisher=found,
                                      provenance={"publisher": FieldProvenance(source=how, confidence=0.5)})
        outcome = Outcome(url="https://example.org/r.pdf", doc_id="d1", state="extracted", extracted=extracted,
                          content_hash="h")
        return build_document(source, outcome).publisher

    assert publisher("Social Research Unit", "pdf_text_copyright") == "Harbourside Council"
    assert publisher("Harbourside Borough Council", "pdf_xmp") == "Harbourside Borough Council"
