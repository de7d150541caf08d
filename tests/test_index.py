"""Chunking, the query language, RRF and the embedded index with the real embedding model."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from core.models import Chunk, IndexedDocument, LabelScore, Page
from index.chunking import chunk_pages
from index.backend import EmbeddingModelId
from index.embedded import EmbeddedIndex, IndexMismatch, recorded_model
from index.query import (
    SearchFilters, SearchQuery, clause_groups, is_constrained, matching_documents, query_terms,
    reciprocal_rank_fusion, scoring_fts5_query, similar_text,
)


def test_chunks_keep_pages_and_overlap():
    pages = [Page(number=1, text=" ".join(f"w{i}" for i in range(25))), Page(number=2, text="a b c")]
    chunks = chunk_pages(pages, max_words=10, overlap_words=2)
    assert [c.page for c in chunks] == [1, 1, 1, 2]
    assert chunks[0].text.split()[-2:] == chunks[1].text.split()[:2]
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]
    assert chunks[2].text.split()[-1] == "w24"
    with pytest.raises(ValueError):
        chunk_pages(pages, max_words=5, overlap_words=5)


def test_fts5_scoring_query_ors_every_clause_but_not():
    assert scoring_fts5_query("family hubs") == '"family" OR "hubs"'
    assert scoring_fts5_query('"pooled budget" AND health') == '"pooled budget" OR "health"'
    assert scoring_fts5_query("collab* NOT police") == '"collab"*'
    assert scoring_fts5_query("post-16 (skills)") == '"post 16" OR "skills"'
    assert scoring_fts5_query("post-1* skills") == '"post 1"* OR "skills"'  # a phrase prefix
    assert scoring_fts5_query("co_operat*") == scoring_fts5_query("co-operat*") == '"co operat"*'  # _ splits too
    assert scoring_fts5_query('"co operat"*') == '"co operat"*' and scoring_fts5_query('"co*"') == '"co"'
    assert scoring_fts5_query("AND OR ---") is None


def test_clause_groups_follow_fts5_precedence():
    """NOT binds tighter than AND, AND tighter than OR: a OR b AND c NOT d = a OR (b AND (c NOT d))."""
    groups = clause_groups("a OR b AND c NOT d")
    assert [([t.words for t in g.must], [t.words for t in g.must_not]) for g in groups] == [
        ([["a"]], []), ([["b"], ["c"]], [["d"]])]
    assert not is_constrained('family hubs OR "pooled budget"')
    assert is_constrained("a AND b") and is_constrained("a NOT b") and is_constrained("x OR a NOT b")
    assert not is_constrained("AND police")  # a leading AND / OR is ignored: a plain word


@pytest.mark.parametrize("text", ["AND OR ---", "OR", '""', "* ( ) -"])
def test_a_query_without_words_is_refused_in_every_mode(text):
    """Before, bm25 found nothing while semantic and hybrid embedded the punctuation and returned
    300 arbitrary documents."""
    for mode in ("bm25", "semantic", "hybrid"):
        with pytest.raises(ValidationError, match="no words to search for"):
            SearchQuery(text=text, mode=mode)


@pytest.mark.parametrize("text, match", [
    ("NOT durham", "cannot start with NOT"),  # used to drop the NOT and return only Durham documents
    ("inspection NOT AND durham", r"two operators in a row \(NOT AND\)"),  # the last one used to win
    ("a OR OR b", r"two operators in a row \(OR OR\)"),
])
def test_an_unclear_boolean_query_is_refused_with_its_reason(text, match):
    with pytest.raises(ValidationError, match=match):
        SearchQuery(text=text)
    assert SearchQuery(text="AND inspection NOT").text == "AND inspection NOT"  # a stray leading AND or trailing op


def test_title_field_clauses():
    """``title:`` limits a word, prefix or phrase to the title (FTS5 column filter); it is a
    condition (hybrid ranks only text matches) and its name is not a highlighted word."""
    assert scoring_fts5_query('title:inspection "joint area"') == 'title : "inspection" OR "joint area"'
    assert scoring_fts5_query('Title:"pooled budget" OR hous*') == 'title : "pooled budget" OR "hous"*'
    assert scoring_fts5_query("title:hous*") == 'title : "hous"*'
    assert scoring_fts5_query("inspection NOT title:durham") == '"inspection"'
    groups = clause_groups("inspection NOT title:durham")
    assert [(t.words, t.field) for t in groups[0].must_not] == [(["durham"], "title")]
    assert is_constrained("title:inspection") and not is_constrained("inspection")
    assert query_terms('title:inspection AND title:"joint area"') == ["inspection", "joint", "area"]
    # not fields: a pasted URL, a time, a colon at the end of a word
    assert scoring_fts5_query("https://www.gov.uk/guidance") == '"https www gov uk guidance"'
    assert scoring_fts5_query("10:30 meeting") == '"10 30" OR "meeting"'
    assert scoring_fts5_query("summary: care") == '"summary" OR "care"'
    assert scoring_fts5_query("ｔｉｔｌｅ:inspection") == 'title : "inspection"'  # NFKC: full-width letters


@pytest.mark.parametrize("text", ["title: budgets", "title:", "title:*", "title:-x", "partnership NOT title:",
                                  "Title:(x)"])
def test_a_title_field_without_a_word_is_refused(text):
    """``title: budgets`` (a space) used to search the word "title" as well; ``x NOT title:``
    dropped every document saying "title"."""
    with pytest.raises(ValidationError, match=r"title: needs a word, a prefix\* or a \"quoted phrase\" right after"):
        SearchQuery(text=text)


def test_an_empty_clause_takes_its_operator_with_it():
    """``a NOT "" b`` used to become ``a NOT b`` (the NOT passed on to the next word)."""
    assert scoring_fts5_query('partnership NOT "" police') == '"partnership" OR "police"'
    assert [g.must_not for g in clause_groups('partnership NOT "" police')] == [[], []]
    assert scoring_fts5_query('budgets AND title:"" OR police') == '"budgets" OR "police"'  # no "two operators"


@pytest.mark.parametrize("text", ["author:smith", "site:gov.uk reports", 'publisher:"Local Government Association"'])
def test_an_unknown_field_is_refused_with_what_to_do(text):
    """``author:smith`` used to be read as the phrase "author smith" and find nothing, silently."""
    with pytest.raises(ValidationError, match=r"unknown field .* limited to title: only.*quote the text"):
        SearchQuery(text=text)
    quoted = '"' + text.split(" ")[0].replace('"', "") + '"'
    assert SearchQuery(text=quoted).text == quoted  # quoted, it is searched as words


def test_similar_records_the_document_id_when_the_title_has_no_words():
    assert similar_text("???", "doc-1") == "doc-1"
    assert similar_text(None, "doc-1") == "doc-1"
    assert similar_text("NOT FOR SALE", "doc-1") == "doc-1"  # a title that is not a valid query
    assert similar_text(" Family hubs ", "doc-1") == "Family hubs"
    assert len(similar_text("word " * 400, "doc-1")) <= 1000


def test_matching_documents_is_set_algebra_over_whole_documents():
    holding = {"a": {"d1", "d2", "d3"}, "b": {"d2", "d4"}, "c": {"d3"}, "d": {"d2"}}
    calls = []

    def documents_with(term):
        calls.append(term.words[0])
        return holding[term.words[0]]

    assert matching_documents(clause_groups("a NOT b"), documents_with) == {"d1", "d3"}
    assert matching_documents(clause_groups("a AND b"), documents_with) == {"d2"}
    assert matching_documents(clause_groups("c OR a AND b NOT d"), documents_with) == {"d3"}
    calls.clear()
    matching_documents(clause_groups("a NOT b OR a AND b"), documents_with)
    assert sorted(calls) == ["a", "b"]  # each distinct clause is looked up once
    # "w" and "title:w" are two clauses (the cache used to answer one for the other)
    titles = {"a": {"d1"}}
    found = matching_documents(clause_groups("a NOT title:a"),
                               lambda term: titles[term.words[0]] if term.field else holding[term.words[0]])
    assert found == {"d2", "d3"}
    assert matching_documents(clause_groups("a AND title:a"),
                              lambda term: titles[term.words[0]] if term.field else holding[term.words[0]]) == {"d1"}


def test_reciprocal_rank_fusion_prefers_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "a"]], k=60)
    assert [d for d, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


DOCS = [
    ("d1", "Family hubs: a partnership evaluation", "Family hubs bring health visitors, early help and "
     "voluntary groups under one roof. The evaluation found families used more services.", "P1", 2023, "Alpha"),
    ("d2", "Violence reduction partnerships", "Police, schools and youth workers share data to prevent "
     "knife crime. The partnership board meets monthly.", "P7", 2021, "Beta"),
    ("d3", "Hospital discharge and social care", "Integrated discharge teams move older patients home "
     "faster with social workers on the ward.", "P2", 2024, "Alpha"),
]


@pytest.fixture()
def index(tmp_path, embedder):
    idx = EmbeddedIndex(tmp_path / "index.sqlite", embedder.dimension)
    for doc_id, title, text, area, year, publisher in DOCS:
        chunks = [Chunk(ordinal=0, text=text, page=1)]
        doc = IndexedDocument(id=doc_id, url=f"http://h/{doc_id}", source="s", content_hash=doc_id, title=title,
                              text=text, publisher=publisher, published_date=date(year, 1, 1),
                              policy_areas=[LabelScore(id=area, label=area, score=0.7)], language="en")
        idx.upsert(doc, chunks, embedder.encode([text]), embedder.encode([title])[0])
    yield idx
    idx.close()


def _ids(index, embedder, text, mode="hybrid", **filters):
    query = SearchQuery(text=text, mode=mode, filters=SearchFilters(**filters))
    return [h.id for h in index.search(query, embedder.encode([text])[0]).hits]


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_each_mode_finds_the_right_document(index, embedder, mode):
    assert _ids(index, embedder, "knife crime prevention", mode)[0] == "d2"
    assert _ids(index, embedder, "Hospital discharge and social care", mode)[0] == "d3"


def test_filters_policy_area_year_publisher(index, embedder):
    assert _ids(index, embedder, "partnership", policy_area="P7") == ["d2"]
    assert set(_ids(index, embedder, "partnership", mode="semantic", publisher="alpha")) == {"d1", "d3"}
    assert _ids(index, embedder, "partnership", year_from=2022, year_to=2023) == ["d1"]


def test_bm25_snippet_highlights_and_phrase(index, embedder):
    response = index.search(SearchQuery(text='"social workers"', mode="bm25"))
    assert [h.id for h in response.hits] == ["d3"]
    assert "with <mark>social workers</mark> on the ward" in response.hits[0].snippet
    assert response.hits[0].page == 1


def test_title_weighs_more_than_body(index, embedder):
    # "partnership" is in d1's title and d2's body; the title match ranks first
    hits = index.search(SearchQuery(text="evaluation", mode="bm25")).hits
    assert hits[0].id == "d1"


def test_upsert_replaces_never_duplicates_and_delete(index, embedder):
    before = index.chunk_count()
    doc = index.get("d1")
    chunks, vectors = index.chunks_of("d1")
    index.upsert(doc, chunks, vectors)
    assert index.count() == 3 and index.chunk_count() == before
    assert index.delete("d1") is True and index.delete("d1") is False
    assert index.count() == 2
    assert "d1" not in _ids(index, embedder, "family hubs", "bm25")
    assert "d1" not in _ids(index, embedder, "family hubs", "semantic")


def test_committed_data_survives_reopen_and_dimension_is_checked(index, tmp_path, embedder):
    index.close()
    reopened = EmbeddedIndex(tmp_path / "index.sqlite", embedder.dimension)
    assert reopened.count() == 3
    reopened.close()
    with pytest.raises(IndexMismatch, match="384-dimensional"):
        EmbeddedIndex(tmp_path / "index.sqlite", 768)


def test_an_index_records_its_embedding_model_and_refuses_another(index, tmp_path, embedder, caplog):
    """Two models of one dimension write vectors that cannot be compared: the index records the
    model (one written before models were recorded adopts the first that opens it)."""
    index.close()
    path = tmp_path / "index.sqlite"
    minilm, other = EmbeddingModelId("all-MiniLM-L6-v2", "a" * 64), EmbeddingModelId("bge-small", "b" * 64)
    EmbeddedIndex(path, embedder.dimension, embedding_model=minilm).close()  # adopts
    with pytest.raises(IndexMismatch, match="holds vectors of the embedding model 'all-MiniLM-L6-v2'.*'bge-small'"):
        EmbeddedIndex(path, embedder.dimension, embedding_model=other)
    same = EmbeddedIndex(path, embedder.dimension, embedding_model=EmbeddingModelId("/a/path/to/it", "a" * 64))
    assert same.count() == 3  # one folder named by package or by path is one model
    same._set_meta("embedding_model", "{not json")  # a damaged record is no record: adopted again, with a warning
    same.close()
    with caplog.at_level(logging.WARNING, logger="index.backend"):
        EmbeddedIndex(path, embedder.dimension, embedding_model=other).close()
    assert "holds vectors but an unreadable model record ('{not json')" in caplog.text
    assert "recording 'bge-small' as their model" in caplog.text
    with pytest.raises(IndexMismatch, match="'bge-small'"):
        EmbeddedIndex(path, embedder.dimension, embedding_model=minilm)
    assert recorded_model(path) == other  # read-only, as ingest checks before it starts
    assert recorded_model(tmp_path / "none.sqlite") is None and not (tmp_path / "none.sqlite").exists()


def test_prefix_reaches_words_longer_than_their_stem_also_in_an_older_index(index, tmp_path, embedder):
    """``evaluat*`` finds "evaluation" (stored as the stem ``evalu``); an index written before the
    ``words`` table gets it filled from its stored text when opened."""
    assert _ids(index, embedder, "evaluat*", "bm25") == ["d1"]
    assert _ids(index, embedder, "voluntar*", "bm25") == ["d1"]  # voluntary -> voluntari
    assert _ids(index, embedder, "evaluat* AND knife", "bm25") == []
    assert _ids(index, embedder, "evaluat* AND partnerships", "bm25") == ["d1"]
    hit = index.search(SearchQuery(text="evaluat*", mode="bm25")).hits[0]
    assert "<mark>evaluation</mark>" in hit.snippet.lower()
    index.close()
    with sqlite3.connect(tmp_path / "index.sqlite") as db:  # as an index of an earlier version
        db.execute("DELETE FROM words")
        db.execute("DELETE FROM meta WHERE key = 'words'")
    older = EmbeddedIndex(tmp_path / "index.sqlite", embedder.dimension)
    try:
        assert _ids(older, embedder, "evaluat*", "bm25") == ["d1"]
        assert _ids(older, embedder, "discharg*", "bm25") == ["d3"]  # from the title and the text
    finally:
        older.close()


def test_prefix_words_helpers():
    from index.query import fold_word, fts5_clause, parse_query, prefix_range, vocabulary_words

    assert fold_word("Naïve ÉVALUATION") == "naive evaluation"
    assert vocabulary_words(["Co-operation, naïve_x", None, "covid19"]) == {"co", "operation", "naive", "x",
                                                                             "covid19"}
    assert prefix_range("Evaluat") == ("evaluat", "evaluau")
    assert prefix_range("*") is None
    term = parse_query("title:evaluat*")[0]
    assert fts5_clause(term, {"evaluat": ["evaluate", "evaluation"]}) == \
        'title : ("evaluat"* OR "evaluate" OR "evaluation")'
    assert fts5_clause(term) == 'title : "evaluat"*'
    from index.query import scoring_terms

    # a repeated prefix counts once (each copy used to add its words again); a repeated word counts
    # each time, BM25's query term frequency (counting it once cost CISI's BM25 0.378 -> 0.329)
    assert [(t.words, t.prefix, t.field) for t in scoring_terms("ev* EV* ev* title:ev* ev Ev")] == \
        [(["ev"], True, None), (["ev"], True, "title"), (["ev"], False, None), (["Ev"], False, None)]


def test_shape_mismatch_is_refused(index):
    doc = index.get("d2")
    with pytest.raises(ValueError, match="vectors shape"):
        index.upsert(doc, [Chunk(ordinal=0, text="x")], np.zeros((2, index.dimension), np.float32))
    assert index.count() == 3  # nothing half-written


def test_query_validation():
    with pytest.raises(ValueError):
        SearchQuery(text="   ")
    with pytest.raises(ValueError):
        SearchQuery(text="x", mode="fuzzy")


def test_concurrent_reader_sees_committed_state(index, tmp_path):
    reader = sqlite3.connect(tmp_path / "index.sqlite")
    assert reader.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 3
    reader.close()
