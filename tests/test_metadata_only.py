"""Image-only PDFs (issue 4, item 4): with OCR off such a PDF is kept as metadata only (title
and dates from its metadata, flags ``no_text_layer`` and ``metadata_only``), findable by its
title; once OCR is turned on, the next run reads it again with Tesseract. Real HTTP on
127.0.0.1, a real image-only PDF, the real pipeline."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from config import load_settings
from config.sources import Source
from tests.sites import Route, RoutedSite

LINES = ["The harbour ferry timetable", "was reviewed with passengers", "in every coastal village."]


def _scanned_pdf() -> bytes:
    """One page that is only a picture of printed lines (no text layer), Info title set."""
    image = Image.new("L", (1700, 700), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=64)
    for i, line in enumerate(LINES):
        draw.text((80, 80 + i * 160), line, fill=0, font=font)
    png = io.BytesIO()
    image.save(png, format="PNG")
    pdf = FPDF()
    pdf.set_title("Harbour ferry timetable review")
    pdf.add_page()
    pdf.image(png, x=10, y=10, w=190)
    return bytes(pdf.output())


def _run(tmp_path, url: str, ocr: bool):
    from flows.context import HubContext
    from flows.ingest import run_ingest

    settings = load_settings(home=str(tmp_path / "hub"), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0},
                             extraction={"ocr": ocr, "min_words": 5})
    summary = run_ingest([Source(name="scans", kind="urls", urls=[url])], settings)
    return summary, HubContext(settings)


def test_scanned_pdf_is_metadata_only_then_read_once_ocr_is_on(tmp_path):
    from index.query import SearchQuery

    routes = {"/scan.pdf": Route(200, _scanned_pdf(), {"Content-Type": "application/pdf", "ETag": '"v1"'})}
    with RoutedSite(routes) as site:
        url = site.base_url + "/scan.pdf"
        summary, ctx = _run(tmp_path, url, ocr=False)
        try:
            assert (summary.indexed, summary.failed) == (1, 0), summary.failures
            doc = ctx.index.get(ctx.index.ids()[0])
            assert doc.title == "Harbour ferry timetable review" and doc.word_count == 0
            assert {"no_text_layer", "metadata_only"} <= set(doc.quality.flags)
            hits = ctx.index.search(SearchQuery(text="ferry timetable", mode="bm25")).hits
            assert [h.id for h in hits] == [doc.id]
        finally:
            ctx.close()
        if shutil.which("tesseract") is None:
            if os.environ.get("CI") == "true":
                pytest.fail("tesseract is missing; CI must install Debian's tesseract-ocr")
            pytest.skip("tesseract is not installed (apt-get install tesseract-ocr): the OCR half is skipped")
        summary, ctx = _run(tmp_path, url, ocr=True)  # same home, same bytes: read again because OCR is on
        try:
            assert summary.indexed == 1, summary.failures
            doc = ctx.index.get(ctx.index.ids()[0])
            assert "ocr" in doc.quality.flags and "metadata_only" not in doc.quality.flags
            assert "coastal village" in doc.text.lower() and doc.word_count >= 10
        finally:
            ctx.close()
