"""The ``jsonl`` source kind: records of a JSON-lines file through the real pipeline (no fetch, no
extraction; chunking, the real model, classification, the embedded index, the registry), incremental
re-runs, bad lines as failures with line numbers, and ``eval search`` matching qrels on ``_id``.

The records below are written for this test (not taken from ../shared)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from config import load_sources
from config.errors import ConfigError
from config.sources import JsonlFields, Source
from crawl.jsonl import LineProblem, parse_record, read_records, record_identity
from index.evaluation import document_key

RECORDS = [
    {"_id": "r-1", "title": "Pharmacists in care homes",
     "text": "Community pharmacists visited care homes each month to review the medicines of older residents, "
             "working with the home's nurses and the local general practice."},
    {"_id": "r/2", "title": "Shared youth work",
     "text": "Youth workers and neighbourhood police officers ran joint evening sessions in three market "
             "towns, and reported fewer calls about antisocial behaviour.", "url": "https://example.org/youth",
     "date": "2022-03-14", "metadata": {"authors": ["A. Example"], "publisher": "Example Trust"}},
    {"_id": "r 3", "title": "Flood wardens",
     "text": "Volunteer flood wardens, the fire service and the council's drainage engineers planned "
             "evacuation routes for riverside streets together."},
]
BAD = ['{"_id": "r-4", "title": "broken', '{"title": "no id here", "text": "some words"}',
       '{"_id": "r-5", "title": "no text"}', '["a", "list"]']


def _write(path, records, bad=()):
    lines = [json.dumps(r) for r in records] + list(bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """A data directory and a sources file declaring one jsonl source (relative path)."""
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "hub"))
    (tmp_path / "data").mkdir()
    corpus = tmp_path / "data" / "notes.jsonl"
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {name: notes, kind: jsonl, path: data/notes.jsonl}\n", encoding="utf-8")
    monkeypatch.setenv("EVIDENCE_HUB_SOURCES_FILE", str(sources))
    return tmp_path, corpus


def _ingest() -> dict:
    result = CliRunner().invoke(app, ["ingest", "--source", "notes", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


def _search(text: str, mode: str = "bm25") -> list[dict]:
    result = CliRunner().invoke(app, ["search", text, "--mode", mode, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]


def test_the_sources_file_declares_a_jsonl_source(hub):
    tmp_path, corpus = hub
    (source,) = load_sources(tmp_path / "sources.yaml")
    assert source.kind == "jsonl" and source.path == corpus.resolve()
    assert source.fields == JsonlFields()  # BEIR field names by default
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {name: notes, kind: jsonl}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="a jsonl source needs 'path'"):
        load_sources(bad)
    bad.write_text("sources:\n  - {name: notes, kind: directory, path: x, fields: {id: doc_id}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'fields' is only for a jsonl source"):
        load_sources(bad)


def test_bad_lines_are_reported_with_their_numbers_and_the_rest_is_read(tmp_path):
    path = tmp_path / "c.jsonl"
    _write(path, RECORDS[:1], BAD + [json.dumps(RECORDS[0])])
    problems: list[LineProblem] = []
    records = read_records(path, problems=problems)
    assert [r.record_id for r in records] == ["r-1"]
    assert [p.line for p in problems] == [2, 3, 4, 5, 6]
    assert "not valid JSON" in problems[0].reason and "no '_id'" in problems[1].reason
    assert "no 'text'" in problems[2].reason and "not an object" in problems[3].reason
    assert "repeats line 1" in problems[4].reason


def test_field_names_are_configurable_and_identity_keeps_the_id(tmp_path):
    fields = JsonlFields(id="doc_id", text="body", title="headline")
    record = parse_record(json.dumps({"doc_id": 7, "headline": "H", "body": "Some body text"}), 1,
                          tmp_path / "c.jsonl", fields)
    assert record.record_id == "7" and record.title == "H" and record.text == "Some body text"
    url = record_identity(tmp_path / "c.jsonl", "a b/#c")
    assert url.startswith("file:///") and url.endswith("#a%20b%2F%23c")
    assert document_key(url) == "a b/#c"
    with pytest.raises(ValueError, match="no 'body'"):
        parse_record('{"doc_id": "1"}', 1, tmp_path / "c.jsonl", fields)
    with pytest.raises(Exception, match="only for a jsonl source"):
        Source(name="x", kind="directory", path=tmp_path, fields=fields)


def test_jsonl_records_are_ingested_incrementally_and_evaluated_on_their_ids(hub):
    tmp_path, corpus = hub
    # First run: two records of three, as a run cut short would leave the index.
    _write(corpus, RECORDS[:2], BAD)
    first = _ingest()
    assert first["discovered"] == 2 and first["indexed"] == 2 and first["fetched"] == 0
    reasons = sorted((f["url"], f["reason"]) for f in first["failures"])
    assert [r.split(":")[0] for _, r in reasons] == ["line 3", "line 4", "line 5", "line 6"]
    assert all(url == corpus.resolve().as_uri() for url, _ in reasons)
    assert all(f["stage"] == "discover" for f in first["failures"])

    hits = _search("pharmacists care homes")
    assert hits and hits[0]["url"] == record_identity(corpus, "r-1")
    assert document_key(hits[0]["url"]) == "r-1"
    youth = _search("neighbourhood police evening sessions")[0]
    assert youth["title"] == "Shared youth work" and youth["publisher"] == "Example Trust"
    assert youth["published_date"] == "2022-03-14"

    # Second run over the whole file: the two indexed records are skipped, only the third is added.
    _write(corpus, RECORDS, BAD)
    second = _ingest()
    assert second["unchanged"] == 2 and second["indexed"] == 1 and second["discovered"] == 3

    # Third run, nothing changed: nothing indexed, no duplicates in the index.
    third = _ingest()
    assert third["unchanged"] == 3 and third["indexed"] == 0 and third["duplicates"] == 0
    everything = _search("pharmacists OR youth OR flood OR wardens OR police", mode="bm25")
    assert sorted(document_key(h["url"]) for h in everything) == ["r 3", "r-1", "r/2"]

    # A changed record is re-indexed under the same id: the new text is found, the old is gone.
    changed = [dict(r) for r in RECORDS]
    changed[2]["text"] = "Volunteer flood wardens and lifeboat crews rehearsed rescues from riverside homes."
    _write(corpus, changed)
    fourth = _ingest()
    assert fourth["indexed"] == 1 and fourth["unchanged"] == 2 and fourth["failed"] == 0
    lifeboat = _search("lifeboat crews")
    assert [document_key(h["url"]) for h in lifeboat] == ["r 3"]
    assert not _search('"drainage engineers"')

    # eval search matches BEIR qrels (header query-id corpus-id score) on the record ids.
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in [
        {"_id": "q1", "text": "medicine reviews for older people in care homes"},
        {"_id": "q2", "text": "lifeboat rescue rehearsal"},
        {"_id": "q3", "text": "a query nobody judged"}]) + "\n", encoding="utf-8")
    qrels = tmp_path / "qrels" / "test.tsv"
    qrels.parent.mkdir()
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tr-1\t1\nq2\tr 3\t1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "search", "--queries", str(queries), "--qrels", str(qrels), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for mode in ("bm25", "semantic", "hybrid"):
        assert report[mode]["queries"] == 2
        assert set(report[mode]["per_query"]) == {"q1", "q2"}
    assert report["semantic"]["ndcg@10"] == 1.0 and report["hybrid"]["ndcg@10"] == 1.0
    assert report["bm25"]["per_query"]["q2"]["ndcg@10"] == 1.0
    assert report["bm25"]["ndcg@10"] > 0


TOPICS = ["school nurses", "housing officers", "probation staff", "health visitors", "librarians",
          "park rangers", "bus drivers", "social workers"]


def test_a_killed_jsonl_run_resumes_without_duplicates(tmp_path):
    """A real ``evidence-hub ingest`` process killed with SIGKILL (its whole process group) once a
    few records are indexed; the next run indexes only the rest, and the index holds each record once."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time
    from pathlib import Path

    from index.embedded import EmbeddedIndex

    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "many.jsonl"
    records = [{"_id": f"m{i}", "title": f"Joint work {i}",
                "text": f"In district {i} the {TOPICS[i % len(TOPICS)]} and the {TOPICS[(i + 3) % len(TOPICS)]} "
                        f"met every week number {i} to plan support for local families together."}
               for i in range(30)]
    _write(corpus, records)
    (tmp_path / "sources.yaml").write_text(f"sources:\n  - {{name: many, kind: jsonl, path: {corpus}}}\n",
                                           encoding="utf-8")
    home = tmp_path / "hub"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_HUB_")}
    env.update(EVIDENCE_HUB_HOME=str(home), EVIDENCE_HUB_SOURCES_FILE=str(tmp_path / "sources.yaml"),
               PYTHONPATH=str(root))
    command = [sys.executable, "-m", "cli.main", "ingest", "--source", "many", "--json"]

    def indexed() -> int:
        try:
            with sqlite3.connect(f"file:{home / 'registry.sqlite'}?mode=ro", uri=True, timeout=5) as db:
                return db.execute("SELECT COALESCE(SUM(state='indexed'), 0) FROM urls").fetchone()[0]
        except sqlite3.OperationalError:  # not written yet
            return 0

    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 600
    while indexed() < 3 and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the kill point: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    before = indexed()
    assert 3 <= before < 30

    done = subprocess.run(command, cwd=root, env=env, capture_output=True, timeout=900)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = json.loads(done.stdout)
    assert summary["failed"] == 0 and summary["duplicates"] == 0
    assert summary["unchanged"] >= before and summary["unchanged"] + summary["indexed"] == 30
    with sqlite3.connect(home / "index.sqlite") as db:
        dimension = int(db.execute("SELECT value FROM meta WHERE key='dimension'").fetchone()[0])
    index = EmbeddedIndex(home / "index.sqlite", dimension)
    try:
        ids = index.ids()
        assert len(ids) == len(set(ids)) == index.count() == 30
    finally:
        index.close()


def test_a_jsonl_source_is_not_capped_at_the_crawl_default(tmp_path):
    from config.sources import JSONL_MAX_DOCUMENTS

    assert Source(name="x", kind="jsonl", path=tmp_path).limits.max_documents == JSONL_MAX_DOCUMENTS
    assert Source(name="x", kind="jsonl", path=tmp_path, limits={"max_documents": 7}).limits.max_documents == 7
    assert Source(name="x", kind="directory", path=tmp_path).limits.max_documents == 500
