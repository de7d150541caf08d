"""The installed ``evidence-hub`` command, run as a user runs it (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.build import build_site
from demo.content import POSTS, REPORTS

EXE = Path(sys.executable).with_name("evidence-hub")


def run(*args: str, home: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = os.environ | {"EVIDENCE_HUB_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"} | (env or {})
    result = subprocess.run([str(EXE), *args], capture_output=True, text=True, env=environment, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli-hub")
    site = tmp_path_factory.mktemp("downloads")
    build_site(site)
    result = run("ingest", "--directory", str(site), "--json", home=home)
    return home, site, json.loads(result.stdout)


def test_ingest_directory_summary_json(hub):
    _, _, summary = hub
    assert summary["indexed"] == summary["discovered"] == len(POSTS) + 2 * len(REPORTS) + 2
    assert summary["failed"] == 0


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_search_json_has_exact_title_first(hub, mode):
    home, _, _ = hub
    title = REPORTS[1].title
    result = run("search", title, "--mode", mode, "--json", home=home)
    assert "Loading weights" not in result.stderr  # transformers' load bar is off (fresh-user report)
    out = json.loads(result.stdout)
    first = out["results"][0]
    assert set(first) >= {"id", "url", "title", "score", "themes", "policy_areas", "snippet"}
    assert REPORTS[1].slug in first["url"]


def test_search_prints_readable_results_and_filters(hub):
    home, _, _ = hub
    out = run("search", "loneliness older people", "--limit", "3", home=home).stdout
    assert "1. " in out and "Northmoor" in out
    out = json.loads(run("search", "partnership", "--year-from", "2030", "--json", home=home).stdout)
    assert out["results"] == []


def test_second_ingest_changes_nothing(hub):
    home, site, first = hub
    again = json.loads(run("ingest", "--directory", str(site), "--json", home=home).stdout)
    assert again["indexed"] == 0 and again["unchanged"] == first["indexed"]


def test_extract_json_and_failure(hub, tmp_path):
    home, site, _ = hub
    pdf = site / "reports" / f"{REPORTS[0].slug}.pdf"
    out = json.loads(run("extract", str(pdf), "--json", home=home).stdout)
    assert out["page_count"] >= 2 and out["provenance"]["title"]["source"] == "pdf_info"
    assert out["published_date"] == REPORTS[0].published.isoformat()
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7 truncated")
    result = run("extract", str(bad), "--json", home=home, check=False)
    assert result.returncode == 1 and "malformed PDF" in json.loads(result.stdout)["error"]


def test_show_prints_a_stored_document_with_its_provenance(hub):
    home, site, _ = hub
    pdf = site / "reports" / f"{REPORTS[0].slug}.pdf"
    by_url = json.loads(run("show", pdf.resolve().as_uri(), "--json", home=home).stdout)
    by_id = json.loads(run("show", by_url["id"], "--json", home=home).stdout)
    assert by_id == by_url and by_id["url"] == pdf.resolve().as_uri() and by_id["page_count"] >= 2
    assert by_id["provenance"]["text"]["source"] == "pdfium" and by_id["provenance"]["title"]["source"] == "pdf_info"
    whole = json.loads(run("show", by_id["id"], "--json", "--text", home=home).stdout)["text"]
    assert len(by_id["text"]) == 1500 < len(whole) and whole.startswith(by_id["text"])
    readable = run("show", by_id["id"], home=home).stdout
    assert "provenance" in readable and "text: pdf" in readable and "policy_areas" in readable
    missing = run("show", "no-such-document", home=home, check=False)
    assert missing.returncode == 1 and "no indexed document no-such-document" in missing.stderr


def test_bad_configuration_exits_2_with_file_and_field(hub, tmp_path):
    home, _, _ = hub
    config = tmp_path / "bad.yaml"
    config.write_text("fetch:\n  retries: many\n")
    result = run("search", "x", "--config", str(config), home=home, check=False)
    assert result.returncode == 2
    assert str(config) in result.stderr and "fetch.retries" in result.stderr


def test_search_without_index_says_what_to_do(tmp_path):
    result = run("search", "anything", "--mode", "bm25", home=tmp_path / "empty", check=False)
    assert result.returncode == 1 and "evidence-hub ingest" in result.stderr


def test_unknown_source_name(hub):
    home, _, _ = hub
    result = run("ingest", "--source", "no-such-source", home=home, check=False)
    assert result.returncode == 2 and "unknown source" in result.stderr


def test_bad_command_line_sources_are_clear_errors(tmp_path):
    result = run("ingest", "--url", "ftp://example.org/x.pdf", home=tmp_path / "h", check=False)
    assert result.returncode == 2 and "bad source on the command line" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("ingest", "--directory", str(tmp_path / "missing"), home=tmp_path / "h", check=False)
    assert result.returncode == 1 and "folder not found" in result.stdout


def test_a_source_that_cannot_be_read_is_its_reason_without_a_traceback(tmp_path):
    # fresh-user report: a sitemap on an address not allowed printed Prefect's 25-line traceback first
    import socket

    with socket.socket() as sock:  # a loopback port: refused by the default fetch.allow_networks
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("ingest", "--sitemap", f"http://127.0.0.1:{port}/sitemap.xml", home=tmp_path / "h", check=False,
                 env={"EVIDENCE_HUB_ALLOW_NETWORKS": ""})
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert "non-public address 127.0.0.1" in output and "allow_networks" in output


def test_search_refuses_unknown_label_ids_and_reads_comma_separated_facets(hub):
    home, _, _ = hub
    unknown = run("search", "partnership", "--mode", "bm25", "--theme", "T99", home=home, check=False)
    assert unknown.returncode == 2 and "'T99' is not one of the taxonomy's themes" in unknown.stderr and "T12" in unknown.stderr
    out = json.loads(run("search", "partnership", "--mode", "bm25", "--facet", "theme,year", "--json", home=home).stdout)
    assert set(out["facets"]) == {"theme", "year"} and out["facets"]["year"]


def test_a_source_failing_twice_for_a_transient_reason_is_its_reason_without_a_traceback(tmp_path):
    # break-it report: a sitemap answering 503 every time printed Prefect's traceback after the retry
    from tests.sites import Route, RoutedSite

    routes = {"/robots.txt": Route(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}),
              "/sitemap.xml": Route(503, b"busy", {"Content-Type": "text/plain"})}
    with RoutedSite(routes) as site:
        result = run("ingest", "--sitemap", f"{site.base_url}/sitemap.xml", home=tmp_path / "h", check=False,
                     env={"EVIDENCE_HUB_ALLOW_NETWORKS": "127.0.0.1/32", "EVIDENCE_HUB_FETCH__RETRIES": "0",
                          "EVIDENCE_HUB_FETCH__MIN_DELAY_S": "0", "EVIDENCE_HUB_FETCH__BACKOFF_INITIAL_S": "0"})
        attempts = [path for path, _ in site.hits if path == "/sitemap.xml"]
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output and "503" in output
    assert len(attempts) == 2  # Prefect ran the discovery task twice: a 503 may pass
