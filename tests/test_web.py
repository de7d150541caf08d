"""The web page in a real headless browser: Debian's Chromium driven by Playwright (no browser
download; ``executable_path`` points at the system browser). Searches, filters by a facet, opens
a document, clicks a gap-map cell, downloads an export and moves by keyboard, against the
ingested demo site served by uvicorn on 127.0.0.1.

Screenshots of the results page and of the gap map are written to ``test-output/web/`` (not
committed) so a person can look at them. Without Chromium the tests are skipped with the reason,
except under ``CI=true``, where a missing browser is a failure (``make test`` installs it).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import pytest

from demo.content import REPORTS
from test_api import LiveServer, demo_hub_home, hub_settings

OUTPUT = Path(os.environ.get("EVIDENCE_HUB_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output")) / "web"


def chromium_path() -> str | None:
    """The system Chromium: ``EVIDENCE_HUB_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on PATH."""
    explicit = os.environ.get("EVIDENCE_HUB_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        message = "no Chromium on this machine (apt-get install chromium; `make test` installs it when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from api import create_app

    with LiveServer(create_app(hub_settings(demo_hub_home(tmp_path_factory)), api_token="")) as server:
        yield server


@pytest.fixture()
def page(browser, live):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  base_url=live.url)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _result_count(page) -> int:
    return int(re.match(r"\d+", page.locator("#results-heading").inner_text()).group())


def test_search_filter_by_facet_and_open_a_document(page):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.goto("/")
    page.get_by_label("Search the evidence").fill("partnership")
    page.get_by_label("Keywords (BM25)").check()
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=partnership"))
    total = _result_count(page)
    assert total > 3 and page.locator("ol.hits > li").count() == min(total, 20)
    assert page.locator(".snippet mark").count() >= total  # every snippet highlights the word
    assert page.locator(".snippet mark").first.inner_text().lower() == "partnership"

    facet = page.locator('[data-facet="policy_area"] a', has_text="P2 Health and social care")
    expected = int(facet.locator(".count").inner_text())
    facet.click()
    page.wait_for_url(re.compile(r"policy_area=P2"))
    assert _result_count(page) == expected
    labels = page.locator("ol.hits > li ul.labels")
    assert labels.count() == expected
    for i in range(expected):
        assert "P2 Health and social care" in labels.nth(i).inner_text()
    assert page.get_by_role("link", name=re.compile("Remove filter Policy area")).is_visible()
    page.screenshot(path=str(OUTPUT / "results.png"), full_page=True)

    first = page.locator("ol.hits > li h3 a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/doc/[0-9a-f]{20}$"))
    assert page.locator("h1").inner_text() == title
    assert page.get_by_role("heading", name="Labels and their evidence").is_visible()
    assert page.locator(".label-evidence li").count() >= 1
    assert page.get_by_role("link", name=re.compile("Open the source")).get_attribute("href").startswith("http://")


def test_gap_map_cell_filters_the_results(page):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.goto("/")
    gap = page.locator("section.gapmap")
    gap.screenshot(path=str(OUTPUT / "gap-map.png"))
    cells = gap.locator("a[data-cell]")
    assert cells.count() > 5
    counts = [int(t) for t in cells.all_inner_texts()]
    cell = cells.nth(counts.index(max(counts)))
    theme, area = cell.get_attribute("data-cell").split("-")
    count = int(cell.inner_text())
    cell.click()
    page.wait_for_url(re.compile(rf"theme={theme}&policy_area={area}|policy_area={area}&theme={theme}"))
    assert _result_count(page) == count
    assert page.locator("ol.hits > li").count() == min(count, 20)
    for i in range(min(count, 20)):
        text = page.locator("ol.hits > li ul.labels").nth(i).inner_text()
        assert f"{theme} " in text and f"{area} " in text
    assert page.locator("section.gapmap td.active a").inner_text() == str(count)


def test_export_button_downloads_the_whole_result_set(page):
    page.goto("/?q=council&mode=bm25")
    total = _result_count(page)
    with page.expect_download() as info:
        page.locator('[data-export="csv"]').click()
    download = info.value
    assert download.suggested_filename == "evidence-hub-export.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    shown = [page.locator("ol.hits > li").nth(i).get_attribute("data-id") for i in range(min(total, 20))]
    assert len(rows) == total > 3 and [r["id"] for r in rows][:20] == shown


def test_keyboard_only_search_and_mode_switch(page):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    focused_label = None
    for _ in range(10):  # tab on to the search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            focused_label = page.evaluate("document.activeElement.labels[0].textContent")
            break
    assert focused_label == "Search the evidence"
    page.keyboard.type(REPORTS[1].title)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q="))
    assert page.locator("ol.hits > li h3 a").first.inner_text() == REPORTS[1].title
    page.get_by_label("Hybrid (words and meaning)").focus()
    page.keyboard.press("ArrowRight")  # radio group: the arrow selects the next mode, the page re-runs the search
    page.wait_for_url(re.compile(r"mode=bm25"))
    assert page.get_by_label("Keywords (BM25)").is_checked()
    assert page.locator("ol.hits > li h3 a").first.inner_text() == REPORTS[1].title
