"""A crawl killed with SIGKILL at several points resumes and ends with exactly the documents of an
uninterrupted crawl; a second crawl of an unchanged site makes only conditional requests.

The crawls are real ``evidence-hub ingest`` processes (``python -m cli.main``) over a loopback
site of generated HTML pages (tests/fault_site.py); each is killed with its whole process group
(the Prefect server and extraction workers it started) the moment the registry reaches a kill
point, then started again on the same data directory.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.sources import Source
from core.models import document_id
from tests.fault_site import FaultSite

ROOT = Path(__file__).resolve().parents[1]
PAGES = 24


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_HUB_")}
    env.update(EVIDENCE_HUB_HOME=str(home), EVIDENCE_HUB_FETCH__ALLOW_NETWORKS="127.0.0.1/32",
               EVIDENCE_HUB_FETCH__MIN_DELAY_S="0", PYTHONPATH=str(ROOT))
    return env


def _start(home: Path, sitemap: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", "--sitemap", sitemap, "--json"],
                            cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own process group: the kill takes its children too


def _registry_counts(home: Path) -> tuple[int, int]:
    """(URLs in the frontier, URLs indexed), read without locking the crawler out."""
    path = home / "registry.sqlite"
    if not path.exists():
        return 0, 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*), COALESCE(SUM(state='indexed'), 0) FROM urls").fetchone()
    except sqlite3.OperationalError:  # the schema is not written yet
        return 0, 0


def _kill_when(proc: subprocess.Popen, home: Path, *, queued: int = 1, indexed: int = 0) -> tuple[int, int]:
    """SIGKILL ``proc``'s process group once the registry holds ``queued`` URLs and ``indexed``
    indexed ones; returns the counts seen at the kill."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        counts = _registry_counts(home)
        if counts[0] >= queued and counts[1] >= indexed:
            break
        if proc.poll() is not None:
            pytest.fail(f"the crawl ended before the kill point ({counts}): {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    return counts


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out)


def _index_state(home: Path) -> dict[str, tuple[str, int]]:
    """document id -> (content hash, chunk count) of the embedded index at ``home``."""
    from index.embedded import EmbeddedIndex

    path = home / "index.sqlite"
    with sqlite3.connect(path) as db:
        dimension = int(db.execute("SELECT value FROM meta WHERE key='dimension'").fetchone()[0])
    index = EmbeddedIndex(path, dimension)
    try:
        ids = index.ids()
        assert len(ids) == len(set(ids)) == index.count()
        return {i: (index.content_hash_of(i), len(index.chunks_of(i)[0])) for i in ids}
    finally:
        index.close()


def test_sigkill_at_several_points_then_resume_equals_a_clean_crawl(tmp_path):
    clean_home, killed_home = tmp_path / "clean", tmp_path / "killed"
    with FaultSite(pages=PAGES, slow_s=0.1) as site:
        sitemap = site.base_url + "/sitemap.xml"
        clean = _start(clean_home, sitemap)
        kills = [_kill_when(_start(killed_home, sitemap), killed_home, queued=1)]  # while fetching the first pages
        kills.append(_kill_when(_start(killed_home, sitemap), killed_home, indexed=6))
        kills.append(_kill_when(_start(killed_home, sitemap), killed_home, indexed=14))
        resumed = _finish(_start(killed_home, sitemap))
        clean_summary = _finish(clean)
    assert kills[0][1] < 6 and 6 <= kills[1][1] < 14 <= kills[2][1] < PAGES, kills
    expected_ids = {document_id(f"{site.base_url}/ok/page-{i}.html") for i in range(PAGES)}
    assert clean_summary["indexed"] == PAGES and clean_summary["failed"] == 0
    assert resumed["discovered"] == PAGES and resumed["failed"] == 0
    assert resumed["indexed"] + resumed["unchanged"] == PAGES  # unchanged includes the 304s
    assert resumed["not_modified"] >= kills[2][1]  # what was committed before the last kill is not fetched again
    clean_state, resumed_state = _index_state(clean_home), _index_state(killed_home)
    assert set(clean_state) == expected_ids
    assert resumed_state == clean_state  # same ids, same content hashes, same chunk counts: nothing twice
    with sqlite3.connect(killed_home / "registry.sqlite") as db:
        assert db.execute("SELECT state, COUNT(*) FROM urls GROUP BY state").fetchall() == [("indexed", PAGES)]


def test_second_crawl_of_an_unchanged_site_is_all_conditional_and_reprocesses_nothing(tmp_path):
    from config import load_settings
    from config.sources import ListingRules
    from flows.ingest import run_ingest

    settings = load_settings(home=str(tmp_path / "hub"), fetch={"allow_networks": ["127.0.0.1/32"],
                                                                "min_delay_s": 0.0})
    with FaultSite(pages=4) as site:
        sources = [Source(name="sitemap", kind="sitemap", url=site.base_url + "/sitemap.xml"),
                   Source(name="listing", kind="listing", url=site.base_url + "/listing",
                          listing=ListingRules(link_selector="a.doc", next_selector="a[rel=next]"))]
        first = run_ingest(sources, settings)
        first_log = list(site.log)
        site.log.clear()
        second = run_ingest(sources, settings)
    assert (first.discovered, first.indexed, first.failed) == (10, 10, 0)
    assert sum(1 for path, _, _ in first_log if path == "/robots.txt") == 1
    assert site.log, "the second crawl asked nothing at all"
    assert [(path, status) for path, headers, status in site.log if "If-None-Match" not in headers] == []
    assert {status for _, _, status in site.log} == {304}
    assert sorted(path for path, _, _ in site.log) == sorted(
        ["/sitemap.xml", "/listing", "/listing?page=2", "/listing?page=3"]
        + [f"/ok/page-{i}.html" for i in range(4)] + [f"/ok/listed-{p}-{i}.html" for p in (1, 2, 3) for i in (1, 2)])
    assert (second.discovered, second.not_modified, second.fetched, second.extracted, second.indexed,
            second.failed) == (10, 10, 0, 0, 0, 0)
