"""Publication dates printed on a PDF's first pages ("Report published: 8 September 2014",
"Ordered to be printed 18 July 2024", a cover line "April 6, 2016"). Candidate strings are
found by pattern; dateparser turns them into dates."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|"
          r"septembre|octobre|novembre|décembre|decembre|januar|februar|märz|juni|juli|oktober|dezember)")
FULL_DATE = (rf"(?:\d{{1,2}}(?:st|nd|rd|th|er)?\.?\s+{MONTHS}\.?,?\s+\d{{4}}"
             rf"|{MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})")
MONTH_YEAR = rf"{MONTHS}\.?,?(?:\s+|\s*[–—-]\s*)\d{{4}}"  # "May 2025", "November - 2015"
CUE_RE = re.compile(
    rf"\b(?:report\s+published|published(?:\s+on)?|publication\s+date|date\s+of\s+publication|date\s+published|"
    rf"ordered\s+(?:by\s+the\s+house\s+of\s+\w+\s+)?to\s+be\s+printed|by\s+command\s+of\s+(?:his|her)\s+majesty|"
    rf"revision\s+date|date\s+revised|last\s+updated|date\s+de\s+publication|publié\s+le|veröffentlicht(?:\s+am)?)\s*:?\s*(?:on\s+)?({FULL_DATE}|{MONTH_YEAR})",
    re.I)
DATE_LINE_RE = re.compile(rf"^(?:\w+day,?\s+)?({FULL_DATE})\.?$", re.I)
SHORT_LINE_MONTH_RE = re.compile(rf"(?:^|[\s,–—-])({MONTH_YEAR})\.?$", re.I)
RANGE_RE = re.compile(r"\b(?:between|from|took place|inspection dates?|visit dates?|to\s+\d+)\b|\d\s*[–—-]\s*\d", re.I)


@lru_cache(maxsize=512)
def parse_date(text: str) -> tuple[date | None, str]:
    """A printed date ("18 July 2024", "April 6, 2016", "May 2025", "7 juin 2023") parsed by
    dateparser; returns (date, precision) with precision ``day`` or ``month`` ((None, "") when
    it is not a date). A month-only date is the first of the month."""
    import dateparser

    has_day = bool(re.search(rf"\d{{1,2}}(?:st|nd|rd|th|er)?\.?\s+{MONTHS}|{MONTHS}\.?\s+\d{{1,2}}\b(?!\d)", text, re.I))
    parsed = dateparser.parse(text, languages=["en", "fr", "de"],
                              settings={"PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": ["month", "year"]})
    if parsed is None:
        return None, ""
    return parsed.date(), "day" if has_day else "month"


def first_pages_date(pages: list[str]) -> tuple[date | None, str, str]:
    """The publication date printed on the first pages. Returns (date, source, precision).

    In order: a date after a publication cue on pages 1-3 (``published``, ``publication date``,
    ``revision date``, ``ordered to be printed``, ``by Command of His Majesty``; source ``pdf_text_published_cue``),
    a line on page 1 that is only a full date (a letter's or cover's date;
    ``pdf_first_page_date_line``), a short page-1 line ending in month and year ("Evaluation
    Report March 2024"; ``pdf_first_page_month_line``, precision ``month``). Date ranges
    ("Between 9 and 13 July 2018", "Inspection date: ...") are never taken.
    """
    cued: list[tuple[int, date, str]] = []
    for text in pages[:3]:
        for match in CUE_RE.finditer(text):
            parsed, precision = parse_date(match.group(1))
            if parsed:
                # "published" beats a revision date, which beats "ordered to be printed"
                # (Lords/Commons papers give both printed and published dates)
                cue = match.group(0).lower()
                rank = 0 if "publi" in cue or "veröff" in cue else 1 if ("revis" in cue or "updated" in cue) else 2
                cued.append((rank, parsed, precision))
    if cued:
        _, parsed, precision = min(cued, key=lambda item: item[0])
        return parsed, "pdf_text_published_cue", precision
    lines = [line.strip() for line in (pages[0] if pages else "").split("\n") if line.strip()]
    for line in lines[:80]:
        match = DATE_LINE_RE.match(line)
        if match and not RANGE_RE.search(line):
            parsed, precision = parse_date(match.group(1))
            if parsed:
                return parsed, "pdf_first_page_date_line", precision
    for line in lines[:40]:
        if len(line.split()) > 8 or RANGE_RE.search(line):
            continue
        match = SHORT_LINE_MONTH_RE.search(line)
        if match:
            parsed, _ = parse_date(re.sub(r"\s*[–—-]\s*", " ", match.group(1)))
            if parsed:
                return parsed, "pdf_first_page_month_line", "month"
    return None, "", ""
