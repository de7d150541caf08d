"""Publication dates printed on a PDF's first pages beat the Info creation date (issue 4, item 2);
real corpus reports from ../shared."""

from __future__ import annotations

from datetime import date

import pytest

from extractors import extract
from extractors.dates import first_pages_date, parse_date
from extractors.pdf import choose_pdf_date


def test_parse_printed_dates_with_precision():
    assert parse_date("18 July 2024") == (date(2024, 7, 18), "day")
    assert parse_date("April 6, 2016") == (date(2016, 4, 6), "day")
    assert parse_date("May 2025") == (date(2025, 5, 1), "month")
    assert parse_date("20 juin 2023") == (date(2023, 6, 20), "day")
    assert parse_date("no date here") == (None, "")


def test_first_pages_date_cues_and_ranges():
    lords = "Behaviour Change\nReport\nOrdered to be printed 11 July 2011 and published 19 July 2011"
    assert first_pages_date([lords]) == (date(2011, 7, 19), "pdf_text_published_cue", "day")
    ofsted = "Inspection date: 2 July 2014 – 23 July 2014\nReport published: 8 September 2014"
    assert first_pages_date([ofsted])[0] == date(2014, 9, 8)
    # an inspection range is never a publication date; a letter's own date line is
    letter = "Between 9 and 13 July 2018, Ofsted inspected\n24 August 2018\nDear Director"
    assert first_pages_date([letter]) == (date(2018, 8, 24), "pdf_first_page_date_line", "day")
    assert first_pages_date(["Inspection dates: 11 to 15 March 2024\nSummary"]) == (None, "", "")
    assert first_pages_date(["NVEST BRIEFING, MAY 2025\nIntroduction"]) == \
        (date(2025, 5, 1), "pdf_first_page_month_line", "month")


def test_month_only_printed_date_keeps_a_creation_date_in_that_month():
    assert choose_pdf_date(date(2025, 5, 20), ["Evaluation report May 2025"]) == \
        (date(2025, 5, 20), "pdf_info_creation_date", 0.6)
    assert choose_pdf_date(date(2025, 6, 23), ["Evaluation Report March 2024"])[0] == date(2024, 3, 1)
    assert choose_pdf_date(date(2020, 1, 2), ["No printed date"]) == (date(2020, 1, 2), "pdf_info_creation_date", 0.5)


@pytest.mark.parametrize("name, published, source", [
    ("lords-behaviour-change-report.pdf", date(2011, 7, 19), "pdf_text_published_cue"),
    ("collab-covid-inquiry-module1-report.pdf", date(2024, 7, 18), "pdf_text_published_cue"),
    ("govt-response-infected-blood-inquiry.pdf", date(2024, 12, 17), "pdf_text_published_cue"),
    ("collab-ofsted-jtai-durham-2018-08-24.pdf", date(2018, 8, 24), "pdf_first_page_date_line"),
    ("cupertino-usd-2016-04-06.pdf", date(2016, 4, 6), "pdf_first_page_date_line"),
])
def test_corpus_report_dates_come_from_the_printed_page(corpus_dir, name, published, source):
    doc = extract((corpus_dir / "docs" / name).read_bytes(), url=f"https://example.org/{name}")
    assert doc.published_date == published
    assert doc.provenance["published_date"].source == source
