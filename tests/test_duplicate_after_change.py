"""Regression (found by benchmarks/soak.py, kill scenario run 5): a page recorded as an exact
duplicate of another page must be indexed once that other page changes.

Two URLs serve the same bytes: one is indexed, the other recorded ``duplicate``. Then the indexed
page changes. The copy's bytes did not change, but they are no longer in the index under any URL:
a later run (at the latest the one after the run that sees the change) must index the copy. A conditional GET answered 304 for the copy is not proof that
its content is in the index (its twin no longer holds it); the content is lost otherwise.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from config.sources import Source
from core.models import content_hash
from demo.server import StaticSite
from tests.fault_site import page_html


def _indexed_hashes(index_path) -> dict[str, str]:
    with closing(sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT url, content_hash FROM documents").fetchall())


def test_copy_of_a_changed_page_is_indexed_on_the_next_run(tmp_path, settings):
    from flows.ingest import run_ingest

    site_dir = tmp_path / "site"
    site_dir.mkdir()
    original = page_html("pooled budgets in integrated care", words=150)
    (site_dir / "report.html").write_bytes(original)
    (site_dir / "report-copy.html").write_bytes(original)
    with StaticSite(site_dir) as site:
        base = site.base_url
        source = Source(name="copies", kind="sitemap", url=base + "/sitemap.xml")
        first = run_ingest([source], settings)
        assert (first.indexed, first.duplicates) == (1, 1)
        # which of the two got indexed is a race: change that one, keep the recorded duplicate as it is
        (winner,) = _indexed_hashes(settings.index_path)
        changed = site_dir / winner.rsplit("/", 1)[1]
        changed.write_bytes(page_html("pooled budgets in integrated care, revised", words=150))
        run_ingest([source], settings)
        run_ingest([source], settings)  # within two runs: the run that sees the change may race the copy
        indexed = _indexed_hashes(settings.index_path)
    # the revised page is indexed, and the copy's (original) content is still searchable somewhere
    assert indexed.get(winner) == content_hash(changed.read_bytes())
    assert content_hash(original) in indexed.values(), (
        f"the copy's content is in no indexed document: {indexed}")


def test_a_page_that_becomes_a_copy_of_another_leaves_no_stale_document(tmp_path, settings):
    """From a break-it run: a URL whose content changed into a byte copy of another indexed page was
    recorded as a duplicate, but its old document stayed in the index, searchable, holding text
    the URL no longer serves."""
    from flows.context import HubContext
    from flows.ingest import run_ingest
    from index.query import SearchQuery

    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "a.html").write_bytes(page_html("pooled budgets in integrated care", words=150))
    (site_dir / "b.html").write_bytes(page_html("harbour ferry timetables", words=150))
    with StaticSite(site_dir) as site:
        copy_url = site.base_url + "/b.html"
        source = Source(name="copies", kind="sitemap", url=site.base_url + "/sitemap.xml")
        assert run_ingest([source], settings).indexed == 2
        (site_dir / "b.html").write_bytes((site_dir / "a.html").read_bytes())
        second = run_ingest([source], settings)
        assert (second.indexed, second.duplicates, second.failed) == (0, 1, 0), second
        third = run_ingest([source], settings)
        assert (third.indexed, third.failed) == (0, 0), third
    indexed = _indexed_hashes(settings.index_path)
    assert list(indexed.values()) == [content_hash((site_dir / "a.html").read_bytes())], indexed
    ctx = HubContext(settings)
    try:
        assert ctx.index.search(SearchQuery(text="ferry timetables", mode="bm25")).hits == []
        assert ctx.registry.get(copy_url).state == "duplicate"
    finally:
        ctx.close()
