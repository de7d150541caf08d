"""`evidence-hub eval search`: judged queries run against a real embedded index, scored by
ir-measures; the measures hold hand-computed values."""

from __future__ import annotations

import json
import math

import ir_measures
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.models import IndexedDocument, Page
from index.chunking import chunk_pages
from index.embedded import EmbeddedIndex
from index.evaluation import (
    JudgmentsError, document_key, fit_query, read_qrels, read_queries, run_queries, score_run,
)
from index.query import MAX_QUERY_CHARS

DOCS = {
    "family-hubs.pdf": ("Family hubs in practice", "Family hubs bring early help, health visiting and parenting "
                        "support under one roof for families with young children."),
    "hospital-discharge.html": ("Getting people home from hospital", "Integrated discharge teams of nurses, "
                                "social workers and therapists plan the return home from hospital."),
    "rough-sleeping.pdf": ("Ending rough sleeping", "Outreach workers, housing officers and mental health "
                           "nurses work with people sleeping rough to find them a home."),
}


def test_ndcg_and_recall_hold_hand_computed_values():
    qrels = [ir_measures.Qrel("q1", "a", 2), ir_measures.Qrel("q1", "b", 1), ir_measures.Qrel("q2", "c", 1),
             ir_measures.Qrel("q3", "x", 0)]  # q3 has no relevant document: left out of the averages
    run = [ir_measures.ScoredDoc("q1", "b", 2.0), ir_measures.ScoredDoc("q1", "a", 1.0)]  # q2: nothing found
    report = score_run(qrels, run)
    ideal = 2 + 1 / math.log2(3)
    assert report["per_query"]["q1"]["ndcg@10"] == round((1 + 2 / math.log2(3)) / ideal, 4)
    assert report["per_query"]["q2"] == {"ndcg@10": 0.0, "recall@100": 0.0}
    assert report["queries"] == 2 and "q3" not in report["per_query"]
    assert report["recall@100"] == 0.5


def test_document_keys_are_file_names_or_record_ids():
    assert document_key("http://host/a/Report%201.pdf?x=1") == "Report 1.pdf"
    assert document_key("file:///data/corpus.jsonl#4983") == "4983"
    assert document_key("docs/family-hubs.pdf") == "family-hubs.pdf"


def test_record_ids_with_a_slash_match_their_judgments_and_paths_their_file_names(tmp_path):
    """A jsonl record id may hold "/" (e.g. "PMC/123"); its judgment used to be cut to "123" like a
    path and never matched. A path in the qrels ("docs/a.pdf") still judges the file "a.pdf"."""
    path = tmp_path / "qrels.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\tPMC/123\t1\nq1\tdocs/a.pdf\t1\nq2\tPMC/9\t1\n",
                    encoding="utf-8")
    run = [ir_measures.ScoredDoc("q1", "PMC/123", 3.0), ir_measures.ScoredDoc("q1", "a.pdf", 2.0),
           ir_measures.ScoredDoc("q2", "PMC/8", 1.0)]
    report = score_run(read_qrels(path), run)
    assert report["per_query"]["q1"] == {"ndcg@10": 1.0, "recall@100": 1.0}
    assert report["per_query"]["q2"] == {"ndcg@10": 0.0, "recall@100": 0.0}


QRELS_HEAD = "query_id\tfile\tgrade\n"
QUERIES_HEAD = "query_id\tquery\n"

# (file name, its bytes, the reader, the error expected). The not-UTF-8, over-long-field and huge-grade
# files used to end `eval search` with a traceback; repeated ids and judgments were taken silently,
# the last one winning.
BAD_FILES = [
    ("qrels.tsv", (QRELS_HEAD + "q1\ta.pdf\thigh\n").encode(), read_qrels, "grade 'high' is not an integer"),
    ("latin1.tsv", QUERIES_HEAD.encode() + b"A\tcaf\xe9\n", read_queries, "is not UTF-8 text .*save it as UTF-8"),
    ("q.jsonl", '{"_id": "1", "text": "x"}\n'.encode("utf-16"), read_queries, "is not UTF-8 text"),
    ("huge.tsv", (QUERIES_HEAD + "A\t" + "x" * 200_000 + "\n").encode(), read_queries, "not a readable TSV"),
    ("twice.tsv", (QUERIES_HEAD + "A\tfirst\nB\tother\nA\tsecond\n").encode(), read_queries,
     "line 4: query id 'A' was already given on line 2"),
    ("twice.jsonl", b'{"_id": "1", "text": "x"}\n{"_id": 1, "text": "y"}\n', read_queries,
     "line 2: query id '1' was already given on line 1"),
    ("twice-qrels.tsv", (QRELS_HEAD + "q1\tdocs/a.pdf\t2\nq1\tdocs/a.pdf\t0\n").encode(), read_qrels,
     "line 3: query 'q1' already judges 'docs/a.pdf' on line 2"),
    ("no-id.tsv", (QRELS_HEAD + "\ta.pdf\t1\n").encode(), read_qrels, "line 2: expected query_id<TAB>document<TAB>grade"),
    ("big-grade.tsv", (QRELS_HEAD + "q1\ta.pdf\t99999999999999999999\n").encode(), read_qrels,
     "line 2: grade 99999999999999999999 is out of range"),
    # a tab inside a query used to cut it silently at the tab ("family" for "family<TAB>hubs")
    ("tab.tsv", (QUERIES_HEAD + "A\tfamily\thubs\n").encode(), read_queries,
     "line 2: 3 tab-separated fields, expected 2"),
]


@pytest.mark.parametrize("name, content, reader, match", BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_judgment_files_are_clear_errors(tmp_path, name, content, reader, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(JudgmentsError, match=match):
        reader(path)


def test_a_missing_judgments_file_is_a_clear_error(tmp_path):
    with pytest.raises(JudgmentsError, match="does not exist"):
        read_queries(tmp_path / "none.tsv")


def test_a_quoted_phrase_query_keeps_its_quotes(tmp_path):
    """TSV has no quoting: the shared dev queries D04 and D08 are quoted phrases, and a csv reader
    with its default quote character used to strip the quotes, running them as plain words."""
    path = tmp_path / "queries.tsv"
    path.write_text('query_id\tquery\nD04\t"Local Safeguarding Children Board"\nD05\tsay "hi" twice\n',
                    encoding="utf-8")
    assert read_queries(path) == {"D04": '"Local Safeguarding Children Board"', "D05": 'say "hi" twice'}


@pytest.fixture()
def hub(tmp_path, embedder, monkeypatch):
    home = tmp_path / "hub"
    index = EmbeddedIndex(home / "index.sqlite", embedder.dimension)
    for name, (title, text) in DOCS.items():
        chunks = chunk_pages([Page(number=1, text=text)], max_words=180, overlap_words=30)
        doc = IndexedDocument(id=name.split(".")[0], url=f"http://site.test/files/{name}", source="t",
                              content_hash=name, title=title, text=text)
        index.upsert(doc, chunks, embedder.encode([c.text for c in chunks]), embedder.encode([title])[0])
    index.close()
    (tmp_path / "q.tsv").write_text("query_id\tquery\nQ1\tfamily hubs\nQ2\tleaving hospital\n", encoding="utf-8")
    (tmp_path / "r.tsv").write_text("query_id\tfile\tgrade\nQ1\tdocs/family-hubs.pdf\t2\n"
                                    "Q2\tdocs/hospital-discharge.html\t2\n", encoding="utf-8")
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(home))
    return tmp_path


def test_two_documents_with_one_file_name_count_once_at_the_better_rank(tmp_path, embedder, caplog):
    """Two sites may both publish "report.pdf". Both used to enter the run under that key, and
    pytrec_eval kept the later (worse) rank: a relevant first hit scored as if found lower down."""
    index = EmbeddedIndex(tmp_path / "index.sqlite", embedder.dimension)
    for doc_id, site, name in (("a", "one", "family-hubs.pdf"), ("b", "two", "rough-sleeping.pdf")):
        title, text = DOCS[name]
        chunks = chunk_pages([Page(number=1, text=text)], max_words=180, overlap_words=30)
        doc = IndexedDocument(id=doc_id, url=f"http://{site}.test/report.pdf", source="t", content_hash=doc_id,
                              title=title, text=text)
        index.upsert(doc, chunks, embedder.encode([c.text for c in chunks]), embedder.encode([title])[0])
    with caplog.at_level("WARNING", logger="index.evaluation"):
        run = run_queries(index, embedder, {"Q": "family hubs for young children"}, "semantic")
    index.close()
    assert run == [ir_measures.ScoredDoc("Q", "report.pdf", 100.0)]
    assert "1 document keys are shared by more than one retrieved document (report.pdf)" in caplog.text
    report = score_run([ir_measures.Qrel("Q", "report.pdf", 1)], run)
    assert report["ndcg@10"] == 1.0


def test_eval_search_json_per_mode(hub):
    result = CliRunner().invoke(app, ["eval", "search", "--queries", str(hub / "q.tsv"), "--qrels",
                                      str(hub / "r.tsv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"bm25", "semantic", "hybrid"}
    # The one relevant document is first for both queries in semantic and hybrid mode.
    assert report["semantic"]["ndcg@10"] == 1.0 and report["hybrid"]["ndcg@10"] == 1.0
    assert report["bm25"]["per_query"]["Q1"] == {"ndcg@10": 1.0, "recall@100": 1.0}
    assert report["semantic"]["recall@100"] == 1.0
    # each figure with its bootstrap interval; each mode compared with the modes before it
    assert report["hybrid"]["ndcg@10_ci95"] == [1.0, 1.0]
    assert set(report["hybrid"]["vs"]) == {"bm25", "semantic"} and "vs" not in report["bm25"]
    assert report["hybrid"]["vs"]["semantic"] == {"ndcg@10_difference": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0}
    table = CliRunner().invoke(app, ["eval", "search", "--queries", str(hub / "q.tsv"), "--qrels", str(hub / "r.tsv")])
    assert table.exit_code == 0 and "hybrid - semantic" in table.stdout and "paired randomization test" in table.stdout


def test_judgment_files_without_a_header_lose_no_row(tmp_path):
    # fresh-user report: a header-less file silently lost its first query or judgment
    (tmp_path / "q.tsv").write_text("q1\tpooled budget\nq2\thospital discharge\n", encoding="utf-8")
    (tmp_path / "r.tsv").write_text("q1\tdocs/a.pdf\t2\nq2\tb.pdf\t1\n", encoding="utf-8")
    assert read_queries(tmp_path / "q.tsv") == {"q1": "pooled budget", "q2": "hospital discharge"}
    assert [(q.query_id, q.doc_id, q.relevance) for q in read_qrels(tmp_path / "r.tsv")] == [
        ("q1", "docs/a.pdf", 2), ("q2", "b.pdf", 1)]
    for header in ("query_id\tquery\n", "QID\ttext\n", "_id\tquery\n"):
        (tmp_path / "h.tsv").write_text(header + "q1\tpooled budget\n", encoding="utf-8")
        assert read_queries(tmp_path / "h.tsv") == {"q1": "pooled budget"}
    (tmp_path / "hr.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tdoc1\t1\n", encoding="utf-8")
    assert len(read_qrels(tmp_path / "hr.tsv")) == 1
    # a query whose id is "id" is a query, and a first grade that is no integer is refused, not a header
    (tmp_path / "id.tsv").write_text("id\tstrasse report\nq2\tkelvin\n", encoding="utf-8")
    assert read_queries(tmp_path / "id.tsv") == {"id": "strasse report", "q2": "kelvin"}
    for first in ("q1\tp1.html\t1.0\n", "q1\tp1.html\t\n", "q1 0 p1.html 1\n"):
        (tmp_path / "bad.tsv").write_text(first + "q1\tp2.html\t1\n", encoding="utf-8")
        with pytest.raises(JudgmentsError, match="line 1"):
            read_qrels(tmp_path / "bad.tsv")


def test_eval_search_refuses_when_no_judged_document_is_found(hub):
    # fresh-user report: judgments of documents the index lacks printed nDCG 0.000 and exit 0
    (hub / "other.tsv").write_text("query_id\tfile\tgrade\nQ1\tdocs/not-indexed.pdf\t2\n"
                                   "Q2\tnowhere.html\t1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "search", "--queries", str(hub / "q.tsv"), "--qrels",
                                      str(hub / "other.tsv"), "--mode", "bm25"])
    assert result.exit_code == 1 and "no query found any of its relevant documents" in result.stderr


@pytest.mark.parametrize("qrels", ["Q1\tdocs/family-hubs.pdf\t-1\n", "Q9\tdocs/family-hubs.pdf\t1\n"])
def test_eval_search_refuses_when_no_query_can_be_scored(hub, qrels):
    # break-it: only negative grades, or judgments of a query the queries file lacks, printed 0.000 and exit 0
    (hub / "none.tsv").write_text("query_id\tfile\tgrade\n" + qrels, encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "search", "--queries", str(hub / "q.tsv"), "--qrels",
                                      str(hub / "none.tsv"), "--mode", "bm25"])
    assert result.exit_code == 2 and "no query to score" in result.stderr


def test_eval_search_rejects_an_unknown_mode(hub):
    result = CliRunner().invoke(app, ["eval", "search", "--queries", str(hub / "q.tsv"), "--qrels",
                                      str(hub / "r.tsv"), "--mode", "fuzzy"])
    assert result.exit_code == 2 and "--mode must be" in result.stderr


def test_a_query_longer_than_the_limit_is_cut_at_a_word_boundary():
    words = "rough sleeping outreach " * 60  # 1,440 characters
    cut = fit_query(words)
    assert len(cut) <= MAX_QUERY_CHARS and cut.endswith(("rough", "sleeping", "outreach"))
    assert words.startswith(cut) and fit_query("family hubs") == "family hubs"
    assert fit_query("x" * 1500) == "x" * MAX_QUERY_CHARS  # no space: cut at the limit


def test_a_long_query_is_run_on_its_opening_instead_of_scoring_zero(hub):
    # CISI has a query of over 1,000 characters: SearchQuery refuses such text, and eval search used
    # to score it 0 in every mode without saying so.
    long = "people sleeping rough and the outreach workers who find them a home " * 20
    assert len(long) > MAX_QUERY_CHARS
    (hub / "q.tsv").write_text(f"query_id\tquery\nQ3\t{long}\n", encoding="utf-8")
    (hub / "r.tsv").write_text("query_id\tfile\tgrade\nQ3\trough-sleeping.pdf\t1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "search", "--queries", str(hub / "q.tsv"), "--qrels",
                                      str(hub / "r.tsv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {m: report[m]["per_query"]["Q3"]["ndcg@10"] for m in report} == {"bm25": 1.0, "semantic": 1.0,
                                                                            "hybrid": 1.0}
