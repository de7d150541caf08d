"""The HTTP API over real HTTP on 127.0.0.1: uvicorn serving the app against an index filled by
ingesting the project's demo site through the real flow (real model, real PDFs and HTML).

The demo index is built once per test session (:func:`demo_hub_home`, shared with the fuzz and
browser tests); tests that write (delete, ingest, reclassify) work on a copy of it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import bibtexparser
import feedparser
import httpx
import pytest
import rispy
import uvicorn

from config import load_settings, load_taxonomy
from config.sources import Source
from core.models import document_id
from demo.build import build_site
from demo.content import POSTS, REPORTS
from demo.server import StaticSite

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-7f3a"
PUBLISHER = "Northmoor Collaboration Observatory"


# -- helpers shared by the API, fuzz and browser tests (imported there) -------------------------

def demo_hub_home(tmp_path_factory) -> Path:
    """A data directory holding the demo site ingested through the real flow, built once per
    session (a marker file says it is complete) and shared read-only by the modules that ask."""
    from flows.ingest import run_ingest

    base = tmp_path_factory.getbasetemp() / "api-demo-hub"
    home = base / "home"
    if not (base / "ready").exists():
        shutil.rmtree(base, ignore_errors=True)
        site_root = base / "site"
        build_site(site_root)
        settings = hub_settings(home)
        with StaticSite(site_root) as site:
            summary = run_ingest([Source(name="demo", kind="sitemap", url=site.base_url + "/sitemap.xml",
                                         publisher=PUBLISHER)], settings)
            expected = len(site.urls()) - len(REPORTS)  # a report's landing page and PDF are one document
        assert summary.failed == 0 and summary.indexed == expected, summary.failures
        (base / "ready").write_text(str(summary.indexed))
    return home


def demo_document_count(tmp_path_factory) -> int:
    """How many documents the shared demo index holds."""
    demo_hub_home(tmp_path_factory)
    return int((tmp_path_factory.getbasetemp() / "api-demo-hub" / "ready").read_text())


def hub_settings(home: Path, **overrides):
    """Settings for a test data directory: loopback allowed, no politeness delay."""
    return load_settings(home=str(home), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0},
                         **overrides)


class LiveServer:
    """The app served by uvicorn in a background thread on a free loopback port."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        for _ in range(1200):  # the lifespan loads the model; give a loaded machine up to ~2 minutes
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.1)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
        self.sock.close()

    def client(self, **kwargs) -> httpx.Client:
        """An HTTP client for this server."""
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)


def wait_for_job(client: httpx.Client, job_id: str) -> dict:
    """Poll ``/jobs/{id}`` until the job is completed or failed (bounded), and return it."""
    for _ in range(3000):
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("completed", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


# -- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return demo_hub_home(tmp_path_factory)


@pytest.fixture(scope="module")
def doc_count(tmp_path_factory) -> int:
    return demo_document_count(tmp_path_factory)


@pytest.fixture(scope="module")
def live(home):
    from api import create_app

    with LiveServer(create_app(hub_settings(home), api_token=TOKEN, protect_reads=False)) as server:
        yield server


@pytest.fixture(scope="module")
def client(live):
    with live.client() as http:
        yield http


def _search(client, **params) -> dict:
    response = client.get("/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _id_of(client, title: str) -> str:
    hits = _search(client, q=title, mode="bm25", limit=1)["hits"]
    assert hits[0]["title"] == title
    return hits[0]["id"]


# -- reads --------------------------------------------------------------------------------------

def test_health_reports_the_index(client, doc_count):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["documents"] == doc_count == len(POSTS) + len(REPORTS) + 1  # posts, reports (landing page + PDF fused), index
    assert body["chunks"] >= doc_count
    assert body["backend"] == "embedded" and body["embedding_model"] == "all-MiniLM-L6-v2"
    assert body["writes_enabled"] is True


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_exact_title_first_with_snippet_labels_and_page(client, mode):
    report = REPORTS[0]
    body = _search(client, q=report.title, mode=mode, limit=5)
    first = body["hits"][0]
    assert first["title"] == report.title and first["publisher"] == PUBLISHER
    assert body["query"] == body["query"] | {"text": report.title, "mode": mode, "limit": 5}
    assert first["snippet"] and first["page"] >= 1
    assert first["themes"] or first["policy_areas"]
    assert all({"id", "label", "score", "terms", "passages"} <= set(label) for label in first["policy_areas"])


def test_bm25_snippet_marks_the_query_words(client):
    hits = _search(client, q='"pooled budget"', mode="bm25")["hits"]
    assert hits and all("<mark>" in h["snippet"] for h in hits)
    assert "harrowfield-pooled-budget-evaluation" in hits[0]["url"]


def test_filter_and_facets_count_the_whole_result_set(client):
    body = _search(client, q="partnership", mode="bm25", policy_area="P2",
                   facets="policy_area,doc_type,year,theme", limit=2)
    assert body["total"] > 2 and len(body["hits"]) == 2
    assert all(any(l["id"] == "P2" for l in hit["policy_areas"]) for hit in body["hits"])
    assert {"value": "P2", "count": body["total"]} in body["facets"]["policy_area"]
    for value in body["facets"]["doc_type"]:  # each facet count is the total of the search filtered to it
        narrowed = _search(client, q="partnership", mode="bm25", policy_area="P2", doc_type=value["value"])
        assert narrowed["total"] == value["count"], value
    assert sum(v["count"] for v in body["facets"]["year"]) <= body["total"]


def test_repeated_facets_parameter_is_the_same_as_commas(client):
    commas = _search(client, q="council", mode="bm25", facets="theme,year")["facets"]
    repeated = client.get("/search", params=[("q", "council"), ("mode", "bm25"), ("facets", "theme"),
                                             ("facets", "year")]).json()["facets"]
    assert commas == repeated and set(commas) == {"theme", "year"}


def test_cursor_walk_returns_the_ranking_once(client):
    whole = _search(client, q="partnership council", mode="bm25", limit=100)
    seen, cursor = [], None
    for _ in range(50):
        params = {"q": "partnership council", "mode": "bm25", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = _search(client, **params)
        seen += [h["id"] for h in page["hits"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [h["id"] for h in whole["hits"]]
    assert len(seen) == whole["total"] > 3


def test_date_sort_is_newest_first(client):
    hits = _search(client, q="partnership", mode="hybrid", sort="date", limit=100)["hits"]
    dates = [h["published_date"] for h in hits if h["published_date"]]
    assert len(dates) >= 5 and dates == sorted(dates, reverse=True)
    assert all(h["published_date"] is None for h in hits[len(dates):])


def test_cursor_of_another_query_is_a_400(client):
    cursor = _search(client, q="partnership", mode="bm25", limit=1)["next_cursor"]
    response = client.get("/search", params={"q": "council", "mode": "bm25", "cursor": cursor})
    assert response.status_code == 400
    assert "another query" in response.json()["detail"]
    garbage = client.get("/search", params={"q": "council", "cursor": "!!not-a-cursor"})
    assert garbage.status_code == 400 and "malformed" in garbage.json()["detail"]


def test_deeply_nested_cursor_is_a_400_not_a_500(client):
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 1400 + b"]" * 1400).decode().rstrip("=")  # RecursionError in json
    for mode in ("bm25", "hybrid"):
        response = client.get("/search", params={"q": "partnership", "mode": mode, "cursor": nested})
        assert response.status_code == 400 and "malformed" in response.json()["detail"]
    page = client.get("/", params={"q": "partnership", "mode": "bm25", "cursor": nested})
    assert page.status_code == 422 and "malformed" in page.text


@pytest.mark.parametrize("path, params, loc", [
    ("/search", [("q", "a"), ("q", "b")], ["query", "q"]),                     # the last used to win silently
    ("/search", [("q", "x"), ("mode", "bm25"), ("mode", "semantic")], ["query", "mode"]),
    ("/export", [("theme", "T1"), ("theme", "T2")], ["query", "theme"]),
    ("/gapmap", [("year_from", "2020"), ("year_from", "2021")], ["query", "year_from"]),
    ("/taxonomy", [("bogus", "1")], ["query", "bogus"]),                      # unknown: 200 before
    ("/sources", [("bogus", "1")], ["query", "bogus"]),
    ("/health", [("bogus", "1")], ["query", "bogus"]),
    ("/saved-searches", [("bogus", "1")], ["query", "bogus"]),
    ("/jobs/abc", [("bogus", "1")], ["query", "bogus"]),
])
def test_unknown_or_repeated_parameters_are_422_on_every_endpoint(client, path, params, loc):
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc


def test_document_endpoints_refuse_unknown_parameters(client):
    doc_id = _id_of(client, POSTS[0].title)
    assert client.get(f"/documents/{doc_id}", params={"bogus": 1}).status_code == 422
    assert client.get(f"/documents/{doc_id}", params={"text": "false"}).status_code == 200
    assert client.get(f"/documents/{doc_id}/similar", params={"limit": 2, "bogus": 1}).status_code == 422


def test_repeated_facets_and_filters_given_once_still_work(client):
    body = client.get("/search", params=[("q", "partnership"), ("mode", "bm25"), ("facets", "theme"),
                                         ("facets", "year")]).json()
    assert set(body["facets"]) == {"theme", "year"}


@pytest.mark.parametrize("path", ["/search", "/export", "/gapmap"])
def test_reversed_year_range_is_a_422_naming_both_years(client, path):
    response = client.get(path, params={"q": "partnership", "year_from": 2025, "year_to": 2023})
    assert response.status_code == 422
    assert "year_from 2025 is after year_to 2023" in response.json()["detail"]


def test_reversed_year_range_on_similar_is_a_422(client):
    doc_id = _id_of(client, POSTS[0].title)
    response = client.get(f"/documents/{doc_id}/similar", params={"year_from": 2025, "year_to": 2023})
    assert response.status_code == 422 and "after year_to" in response.json()["detail"]


@pytest.mark.parametrize("path, name, value", [("/search", "theme", "T999"), ("/export", "policy_area", "p2"),
                                               ("/gapmap", "evidence_type", "E99")])
def test_unknown_label_id_is_a_422_listing_the_known_ones(client, path, name, value):
    response = client.get(path, params={"q": "partnership", name: value})  # it used to find nothing, silently
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"] == ["query", name] and f"{value!r} is not one of the taxonomy" in error["msg"]
    page = client.get("/", params={"q": "partnership", name: value})
    assert page.status_code == 422 and "is not one of the taxonomy" in page.text


def test_blank_filter_is_no_filter(client):
    plain = _search(client, q="partnership", mode="bm25")
    for blank in ("", " "):
        assert _search(client, q="partnership", mode="bm25", theme=blank, publisher=blank,
                       year_from=blank)["total"] == plain["total"]


@pytest.mark.parametrize("params, loc", [
    ({"q": "x", "limit": 101}, ["query", "limit"]),
    ({"q": "x", "limit": 0}, ["query", "limit"]),
    ({"q": "x" * 501}, ["query", "q"]),
    ({}, ["query", "q"]),
    ({"q": "   "}, ["query", "q"]),
    ({"q": "AND OR ---"}, ["query", "q"]),  # operators and punctuation only: nothing to search for
    ({"q": "x", "mode": "fuzzy"}, ["query", "mode"]),
    ({"q": "x", "sort": "title"}, ["query", "sort"]),
    ({"q": "x", "year_from": "last year"}, ["query", "year_from"]),
    ({"q": "x", "facets": "colour"}, ["query", "facets", 0]),
    ({"q": "x", "polcy_area": "P2"}, ["query", "polcy_area"]),
    ({"q": "x", "offset": 3, "cursor": "abc"}, ["query"]),
])
def test_bad_parameters_are_422_json_naming_the_parameter(client, params, loc):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("invalid request: ")
    assert body["errors"][0]["loc"] == loc, body


def test_document_has_metadata_provenance_labels_urls_and_text(client):
    report = REPORTS[0]
    doc_id = _id_of(client, report.title)
    doc = client.get(f"/documents/{doc_id}").json()
    assert doc["id"] == doc_id and doc["title"] == report.title
    assert doc["authors"] == report.authors and doc["published_date"] == report.published.isoformat()
    assert doc["url"] in doc["urls"]
    assert doc["provenance"]["title"]["source"] and 0 < doc["provenance"]["title"]["confidence"] <= 1
    assert doc["word_count"] > 100 and report.sections[1][1].split()[0] in doc["text"]
    labelled = doc["themes"] + doc["policy_areas"]
    assert labelled and any(l["terms"] or l["passages"] for l in labelled)
    short = client.get(f"/documents/{doc_id}", params={"text": "false"}).json()
    assert short["text"] == "" and short["title"] == report.title


def test_unknown_document_is_404_json(client):
    for path in ("/documents/0000000000000000dead", "/documents/0000000000000000dead/similar"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "no document '0000000000000000dead' in the index", "errors": []}


def test_similar_documents_exclude_the_document_itself(client):
    doc_id = _id_of(client, POSTS[1].title)
    body = client.get(f"/documents/{doc_id}/similar", params={"limit": 4}).json()
    assert len(body["hits"]) == 4 and doc_id not in [h["id"] for h in body["hits"]]
    assert body["hits"] == sorted(body["hits"], key=lambda h: -h["score"])
    filtered = client.get(f"/documents/{doc_id}/similar", params={"doc_type": "evaluation"}).json()
    assert filtered["hits"] and all(h["doc_type"] == "evaluation" for h in filtered["hits"])
    assert client.get(f"/documents/{doc_id}/similar", params={"limit": 51}).status_code == 422


def test_taxonomy_is_the_configured_one(client, home):
    taxonomy = load_taxonomy(hub_settings(home).taxonomy_file)
    body = client.get("/taxonomy").json()
    assert [t["id"] for t in body["themes"]] == [t.id for t in taxonomy.themes]
    assert [p["label"] for p in body["policy_areas"]] == [p.label for p in taxonomy.policy_areas]
    assert len(body["evidence_types"]) == len(taxonomy.evidence_types) == 7


def test_sources_list_catalogue_and_registry_state(client, home, doc_count):
    from config import load_sources

    body = client.get("/sources").json()
    catalogue = load_sources(hub_settings(home).sources_file)
    assert [s["name"] for s in body if s["configured"]] == [s.name for s in catalogue]
    demo = next(s for s in body if s["name"] == "demo")
    assert demo["configured"] is False
    assert demo["state"]["urls"]["indexed"] == doc_count and demo["state"]["urls"]["failed"] == 0
    run = demo["state"]["last_run"]
    assert run["state"] == "completed" and run["sources"] == ["demo"] and run["counts"]["indexed"] == doc_count
    assert run["finished_at"] >= run["started_at"] and demo["state"]["last_indexed"]


def _export(client, **params) -> httpx.Response:
    response = client.get("/export", params=params)
    assert response.status_code == 200, response.text
    return response


def test_exports_hold_the_whole_result_set_in_every_format(client):
    search = _search(client, q="partnership", mode="bm25", limit=100)
    ids = [h["id"] for h in search["hits"]]
    titles = [h["title"] for h in search["hits"]]
    assert len(ids) == search["total"] > 5

    response = _export(client, q="partnership", mode="bm25", format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="evidence-hub-export.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == ids and [r["title"] for r in rows] == titles
    assert all(r["publisher"] == PUBLISHER and r["url"].startswith("http://127.0.0.1:") for r in rows)

    ris = rispy.loads(_export(client, q="partnership", mode="bm25", format="ris").text)
    assert [r["id"] for r in ris] == ids and [r["title"] for r in ris] == titles
    report = next(r for r in ris if r["title"] == REPORTS[0].title) if REPORTS[0].title in titles else ris[0]
    assert report["type_of_reference"] in ("RPRT", "BLOG", "ELEC", "GEN") and report["urls"]

    library = bibtexparser.parse_string(_export(client, q="partnership", mode="bm25", format="bibtex").text)
    assert not library.failed_blocks and len(library.entries) == len(ids)
    assert len({e.key for e in library.entries}) == len(ids)
    assert {e["url"] for e in library.entries} == {r["url"] for r in rows}

    lines = _export(client, q="partnership", mode="bm25", format="jsonl").text.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ids and all(r["themes"] is not None for r in records)


def test_export_without_query_is_the_filtered_index(client):
    rows = list(csv.DictReader(io.StringIO(_export(client, format="csv", policy_area="P2").text)))
    assert rows and all("P2 " in r["policy_areas"] for r in rows)
    everything = list(csv.DictReader(io.StringIO(_export(client, format="csv").text)))
    with_p2 = [r["id"] for r in everything if any(p.startswith("P2 ") for p in r["policy_areas"].split("; "))]
    assert [r["id"] for r in rows] == with_p2
    dates = [r["published_date"] for r in everything if r["published_date"]]
    assert dates == sorted(dates, reverse=True)
    assert len(list(csv.DictReader(io.StringIO(_export(client, format="csv", max_results=3).text)))) == 3


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_as_text():
    from api.export import ExportRecord, csv_record, spreadsheet_safe

    for formula in ('=HYPERLINK("http://evil.example","x")', "+Sum(1,2)", "-2+3", "@cmd", "\tx", "\rx"):
        assert spreadsheet_safe(formula) == "'" + formula
    assert spreadsheet_safe("Pooled budgets - a review") == "Pooled budgets - a review"
    record = ExportRecord(id="d1", title="=cmd|' /C calc'!A0", authors=["@Smith"], publisher="+Gov", url="http://x.test/a",
                          word_count=3, score=-0.5)
    row = next(csv.reader(io.StringIO(csv_record(record))))
    assert row[1] == "'=cmd|' /C calc'!A0" and row[2] == "'@Smith" and row[3] == "'+Gov"
    assert row[-1] == "-0.5"  # numbers stay numbers


def test_bibtex_titles_with_dollars_and_urls_stay_text():
    from bibtexparser.middlewares import LatexDecodingMiddleware

    from api.export import ExportRecord, bibtex_record

    title = 'Costs in $ and £: see http://evil.example/x,y for 100% of "cases" & more'
    text = bibtex_record(ExportRecord(id="abcdef01", title=title, url="http://x.test/a?b=1&c=2"))
    assert "\\url{" not in text and "\\$" in text  # break-it: "$" opened maths mode, \url{} ate the title
    entry = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()]).entries[0]
    assert entry["title"].replace("\u201d", '"') == title  # LaTeX's '' closing quote decodes as a curly one
    assert "url = {http://x.test/a?b=1&c=2}" in text  # verbatim: the url field is not LaTeX


def test_feed_of_a_title_with_control_characters_is_well_formed_xml():
    from datetime import datetime, timezone

    from api.saved import SavedSearch, atom_feed
    from core.models import IndexedDocument

    doc = IndexedDocument(id="d1", url="http://x.test/a", source="s", content_hash="h",
                          title="Control \x01\x02 \x1b[31m\x7f title", publisher="Pub\x00lisher",
                          authors=["A\x0bB"])  # as an index written before titles were cleaned may hold
    saved = SavedSearch(id="abc", name="plain", params={}, created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                        feed="/saved-searches/abc/feed")
    parsed = feedparser.parse(atom_feed(saved, [doc], "http://hub.test"))
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.entries[0].title == "Control  [31m\x7f title"
    # one alternate link per entry (RFC 4287 4.1.1): the source; the hub's page is related
    assert [(l.rel, l.href) for l in parsed.entries[0].links] == [("alternate", "http://x.test/a"),
                                                                  ("related", "http://hub.test/doc/d1")]


def test_saved_search_name_must_be_one_line_of_text():
    from pydantic import ValidationError

    from api.saved import SavedSearchIn

    for name, message in (("ctl\x01\x1b[31m", "control characters"), ("\x00", "control characters"),
                          ("two\nlines", "line breaks"), ("   ", "the name is blank")):
        with pytest.raises(ValidationError, match=message):
            SavedSearchIn(name=name)
    assert SavedSearchIn(name="  Pooled budgets  ").name == "Pooled budgets"
    assert SavedSearchIn(name="two  spaces").name == "two  spaces"


def test_saved_searches_stored_before_the_name_rule_are_still_read(tmp_path):
    # break-it report: rows the old API stored ("a\tb", "a\nb") made GET /saved-searches a 500
    import sqlite3

    from api.saved import SavedSearches

    store = SavedSearches(tmp_path / "saved.sqlite")
    store.close()
    with sqlite3.connect(tmp_path / "saved.sqlite") as db:
        db.execute("INSERT INTO saved_searches VALUES ('old1', 'a\tb\nc', '{}', '2026-01-01T00:00:00+00:00')")
    store = SavedSearches(tmp_path / "saved.sqlite")
    assert [s.name for s in store.all()] == ["a\tb\nc"] and store.get("old1").name == "a\tb\nc"
    store.close()


def test_web_page_errors_name_the_form_fields_and_stay_pages(client):
    refused = client.get("/", params={"q": "NOT x"})
    assert refused.status_code == 422 and "q: " in refused.text and "text: " not in refused.text
    for bad in ("abc", "-1", "100001", "²"):
        page = client.get("/", params={"q": "partnership", "offset": bad})
        assert page.status_code == 422 and "offset must be a whole number from 0 to 100000" in page.text
        assert "invalid literal" not in page.text
    missing = client.get("/doc/%3Cscript%3Ez%3C%2Fscript%3E")  # an id holding a slash: the HTML page, not JSON
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "<script>z" not in missing.text


def test_web_page_offset_pages_a_search(client):
    ids = [h["id"] for h in _search(client, q="partnership", mode="bm25", limit=100)["hits"]]
    first = client.get("/", params={"q": "partnership", "mode": "bm25"}).text
    later = client.get("/", params={"q": "partnership", "mode": "bm25", "offset": 5}).text
    assert f"/doc/{ids[0]}" in first and f"/doc/{ids[5]}" in later
    assert f'/doc/{ids[0]}"' not in later


def test_export_rejects_an_unknown_format(client):
    response = client.get("/export", params={"q": "x", "format": "docx"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["query", "format"]


def test_gap_map_cells_equal_filtered_search_totals(client):
    body = client.get("/gapmap", params={"q": "partnership", "mode": "bm25"}).json()
    assert body["total"] == _search(client, q="partnership", mode="bm25")["total"]
    assert [t["id"] for t in body["themes"]][:3] == ["T1", "T2", "T3"]
    cells = [(t, p, n) for t, row in body["cells"].items() for p, n in row.items()]
    assert cells
    for theme, area, count in cells[:4]:
        total = _search(client, q="partnership", mode="bm25", theme=theme, policy_area=area)["total"]
        assert total == count, (theme, area)


def test_gap_map_of_the_whole_index_counts_documents(client, doc_count):
    body = client.get("/gapmap").json()
    assert body["total"] == doc_count
    rows = list(csv.DictReader(io.StringIO(_export(client, format="csv").text)))
    expected: dict[tuple[str, str], int] = {}
    for r in rows:
        for theme in filter(None, r["themes"].split("; ")):
            for area in filter(None, r["policy_areas"].split("; ")):
                key = (theme.split()[0], area.split()[0])
                expected[key] = expected.get(key, 0) + 1
    got = {(t, p): n for t, row in body["cells"].items() for p, n in row.items()}
    assert got == expected and got


def test_served_openapi_spec_equals_the_checked_in_file(client):
    served = client.get("/openapi.json").json()
    assert served == json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")), (
        "docs/openapi.json is out of date: run `python -m api.openapi`")
    assert {"/search", "/documents/{doc_id}", "/documents/{doc_id}/similar", "/taxonomy", "/sources", "/health",
            "/export", "/ingest", "/reclassify"} <= set(served["paths"])
    names = {p["name"] for p in served["paths"]["/search"]["get"]["parameters"]}
    from index.query import SearchFilters, SearchQuery

    assert set(SearchFilters.model_fields) | set(SearchQuery.model_fields) - {"text", "filters"} | {"q"} == names


# -- writes -------------------------------------------------------------------------------------

def test_write_endpoints_need_the_bearer_token(client):
    doc_id = _id_of(client, POSTS[0].title)
    for method, path in (("POST", "/reclassify"), ("DELETE", f"/documents/{doc_id}")):
        missing = client.request(method, path)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
    assert client.post("/ingest", json={"sources": []}).status_code == 401
    assert client.get(f"/documents/{doc_id}").status_code == 200  # nothing was deleted


def test_without_a_token_writes_are_off_and_protected_reads_need_one(home):
    from api import create_app

    with LiveServer(create_app(hub_settings(home), api_token="", protect_reads=False)) as server, \
            server.client() as http:
        response = http.post("/reclassify", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403 and "EVIDENCE_HUB_API_TOKEN" in response.json()["detail"]
        assert http.get("/health").json()["writes_enabled"] is False
    with LiveServer(create_app(hub_settings(home), api_token=TOKEN, protect_reads=True)) as server, \
            server.client() as http:
        assert http.get("/search", params={"q": "council"}).status_code == 401
        assert http.get("/").status_code == 401
        authed = http.get("/search", params={"q": "council", "mode": "bm25"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert authed.status_code == 200 and authed.json()["total"] > 0
        assert http.get("/health").status_code == 200  # health stays open for probes


NEW_PAGES = [("ferrybridge-care-navigators.html", "Care navigators in Ferrybridge: a first look at joint triage"),
             ("oakhollow-school-nurses.html", "School nurses and youth workers in Oakhollow share one caseload")]


def _page(title: str) -> str:
    """A small HTML article (new text, so its content hash is no demo page's)."""
    body = " ".join(
        f"<p>{title}. In week {week} the council, the NHS trust and two charities met again to agree who "
        f"would follow up each referral, how information would be shared and what the families themselves "
        f"had asked for. The partnership kept a shared log and reviewed it every Friday.</p>" for week in range(1, 7))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


@pytest.fixture()
def writable(home, tmp_path):
    """A copy of the demo data directory, a second demo site, and a catalogue with one source of
    two of its pages, served by an app that accepts the token."""
    from api import create_app

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    site_root = tmp_path / "site"
    site_root.mkdir()
    for name, title in NEW_PAGES:
        (site_root / name).write_text(_page(title), encoding="utf-8")
    with StaticSite(site_root) as site:
        pages = [f"{site.base_url}/{name}" for name, _ in NEW_PAGES]
        sources_file = tmp_path / "sources.yaml"
        sources_file.write_text(json.dumps({"sources": [{"name": "two-pages", "kind": "urls", "urls": pages}]}))
        settings = hub_settings(copy, sources_file=str(sources_file))
        with LiveServer(create_app(settings, api_token=TOKEN)) as server, server.client(
                headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            yield http, pages


def test_ingest_delete_and_refill_through_the_api(writable, doc_count):
    http, pages = writable
    saved = http.post("/saved-searches", json={"name": "Partnership, keywords", "params": {"q": "partnership",
                                                                                            "mode": "bm25"}})
    assert saved.status_code == 201, saved.text
    feed_path = saved.json()["feed"]
    before = feedparser.parse(http.get(feed_path).content)
    assert before.feed.title == "Evidence Hub: Partnership, keywords"
    total = http.get("/search", params={"q": "partnership", "mode": "bm25"}).json()["total"]
    assert len(before.entries) == total > 3
    assert http.post("/saved-searches", json={"name": "x", "params": {"mode": "fuzzy"}}).status_code == 422
    # the query itself is checked when saved (its feed used to answer 400 ever after)
    refused = http.post("/saved-searches", json={"name": "x", "params": {"q": "author:smith"}})
    assert refused.status_code == 422 and "unknown field 'author'" in refused.text
    assert all(s["name"] != "x" for s in http.get("/saved-searches").json())
    assert http.post("/ingest", json={"sources": ["nope"]}).status_code == 404
    huge = http.post("/ingest", json={"sources": ["x" * 100_000]})  # an unknown name is not echoed in full
    assert huge.status_code == 404 and len(huge.text) < 1000 and "two-pages" in huge.json()["detail"]
    assert http.post("/ingest", json={"sources": ["two-pages"], "colour": 1}).status_code == 422
    job = http.post("/ingest", json={"sources": ["two-pages"]})
    assert job.status_code == 202 and job.json()["kind"] == "ingest"
    done = wait_for_job(http, job.json()["id"])
    assert done["state"] == "completed", done
    assert done["result"]["indexed"] == 2 and done["result"]["failed"] == 0
    assert http.get("/health").json()["documents"] == doc_count + 2
    new_id = document_id(pages[0])
    assert http.get(f"/documents/{new_id}").json()["title"] == NEW_PAGES[0][1]
    after = feedparser.parse(http.get(feed_path).content)  # the new pages mention partnership: newest first
    assert len(after.entries) == total + 2
    assert {e.title for e in after.entries[:2]} == {title for _, title in NEW_PAGES}
    assert {next(l.href for l in e.links if l.rel == "alternate") for e in after.entries[:2]} == set(pages)
    assert [e.id for e in after.entries[2:]] == [e.id for e in before.entries]
    assert http.delete(saved.json()["id"].join(["/saved-searches/", ""])).status_code == 200
    assert http.get(feed_path).status_code == 404

    deleted = http.delete(f"/documents/{new_id}")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": new_id}
    assert http.get(f"/documents/{new_id}").status_code == 404
    assert http.delete(f"/documents/{new_id}").status_code == 404
    assert http.get("/health").json()["documents"] == doc_count + 1
    sources = {s["name"]: s for s in http.get("/sources").json()}
    assert sources["two-pages"]["configured"] and sources["two-pages"]["state"]["urls"]["indexed"] == 2

    again = wait_for_job(http, http.post("/ingest", json={"sources": ["two-pages"]}).json()["id"])
    assert again["state"] == "completed" and again["result"]["indexed"] == 1  # the deleted page comes back
    assert http.get(f"/documents/{new_id}").status_code == 200


def test_reclassify_job_relabels_every_document(writable, doc_count):
    http, _ = writable
    job = http.post("/reclassify")
    assert job.status_code == 202
    done = wait_for_job(http, job.json()["id"])
    assert done["state"] == "completed", done
    assert done["result"]["documents"] == doc_count and done["result"]["skipped"] == []
    assert http.get("/jobs/0123").status_code == 404
    hits = http.get("/search", params={"q": "partnership", "mode": "bm25"}).json()["hits"]
    assert hits and any(h["policy_areas"] for h in hits)


# -- the command --------------------------------------------------------------------------------

def _processes_with_env(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc to find child processes")
def test_serve_stopped_with_sigterm_leaves_no_prefect_server_behind(home, tmp_path):
    # break-it report: after an ingest job, SIGTERM to `evidence-hub serve` left Prefect's temporary
    # server running (uvicorn re-raises the signal, which skips Prefect's exit handler)
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    site_root = tmp_path / "site"
    site_root.mkdir()
    (site_root / NEW_PAGES[0][0]).write_text(_page(NEW_PAGES[0][1]), encoding="utf-8")
    marker = f"EVIDENCE_HUB_TEST_MARKER={tmp_path.name}"
    with StaticSite(site_root) as site:
        sources_file = tmp_path / "sources.yaml"
        sources_file.write_text(json.dumps({"sources": [{"name": "one-page", "kind": "urls",
                                                         "urls": [f"{site.base_url}/{NEW_PAGES[0][0]}"]}]}))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDENCE_HUB_", "PREFECT_API_URL"))} | {
            "EVIDENCE_HUB_HOME": str(copy), "EVIDENCE_HUB_SOURCES_FILE": str(sources_file),
            "EVIDENCE_HUB_ALLOW_NETWORKS": "127.0.0.1/32", "EVIDENCE_HUB_API_TOKEN": TOKEN,
            "PREFECT_HOME": str(tmp_path / "prefect"), "EVIDENCE_HUB_TEST_MARKER": tmp_path.name}
        exe = Path(sys.executable).with_name("evidence-hub")
        process = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                              headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                for _ in range(1200):
                    try:
                        http.get("/health")
                        break
                    except httpx.TransportError:
                        assert process.poll() is None, process.stdout.read()
                        time.sleep(0.1)
                job = http.post("/ingest", json={"sources": ["one-page"]})
                assert job.status_code == 202, job.text
                assert wait_for_job(http, job.json()["id"])["state"] == "completed"
            assert len(_processes_with_env(marker)) >= 2  # the server and Prefect's temporary server
        finally:
            process.terminate()
            process.communicate(timeout=60)
    for _ in range(100):  # Prefect's server gets up to 5 s to stop
        if not _processes_with_env(marker):
            break
        time.sleep(0.1)
    assert _processes_with_env(marker) == []


def test_evidence_hub_serve_starts_the_api_and_the_web_page(home, doc_count):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_HUB_")} | {
        "EVIDENCE_HUB_HOME": str(home)}
    exe = Path(sys.executable).with_name("evidence-hub")
    process = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        for _ in range(1200):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.1)
        assert body is not None and body["documents"] == doc_count
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=60)
        assert page.status_code == 200 and "Evidence gap map" in page.text
    finally:
        process.terminate()
        output = process.communicate(timeout=60)[0]
    assert f"http://127.0.0.1:{port}/" in output
