"""Hybrid fusion (index.query): weighted RRF, score normalisation, convex combination, the
search.hybrid settings, and the embedded index ranking by them (hand-computed figures)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from config import load_settings
from config.settings import HybridSettings
from core.models import Chunk, IndexedDocument
from index.embedded import EmbeddedIndex
from index.query import (
    SearchQuery, convex_combination, feedback_vector, fuse, normalise_scores, reciprocal_rank_fusion,
)


def test_weighted_rrf_by_hand():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "a"]], k=1, weights=[1.0, 3.0])
    # a: 1/2 + 3/4 = 1.25, b: 1/3 + 3/2 = 11/6, c: 1/4 + 3/3 = 1.25 (tie with a: the first list ranks a higher)
    assert fused == [("b", pytest.approx(11 / 6)), ("a", pytest.approx(1.25)), ("c", pytest.approx(1.25))]
    # ties go by the first list's ranks, then the next list's, never by id: ranks (1, 3) and (3, 1)
    # sum alike (and beat ranks (2, 2)); "z" is first because the first list (BM25) ranks it first
    assert [d for d, _ in reciprocal_rank_fusion([["z", "m", "a"], ["a", "m", "z"]])] == ["z", "a", "m"]
    assert [d for d, _ in reciprocal_rank_fusion([["a", "m", "z"], ["z", "m", "a"]])] == ["a", "z", "m"]
    # a document one list lacks ranks last in it: "y" (only in the second list, at 1) and "x" (only
    # in the first, at 1) tie; x wins on the first list, then "w" (first list's 2) before "v"
    assert [d for d, _ in reciprocal_rank_fusion([["x", "w"], ["y", "v"]])] == ["x", "y", "w", "v"]
    assert reciprocal_rank_fusion([["a", "b"], ["b"]]) == reciprocal_rank_fusion([["a", "b"], ["b"]], 60, [1, 1])
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 1.0])


def test_normalisations_by_hand():
    ranking = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    assert normalise_scores(ranking, "minmax") == {"a": 1.0, "b": 0.5, "c": 0.0}
    z = normalise_scores(ranking, "zscore")  # mean 2, population sd sqrt(2/3)
    assert z == {"a": pytest.approx(1.224745), "b": 0.0, "c": pytest.approx(-1.224745)}
    cosines = normalise_scores([("x", 0.5), ("y", 0.2)], "theoretical", lower_bound=-1.0)
    assert cosines == {"x": pytest.approx(1.0), "y": pytest.approx(0.8)}
    assert normalise_scores([("only", 7.0)], "minmax") == {"only": 1.0}
    assert normalise_scores([("only", 7.0)], "zscore") == {"only": 0.0}
    assert normalise_scores([], "minmax") == {}
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise_scores(ranking, "max")


BM25 = [("a", 8.0), ("b", 4.0), ("c", 2.0)]
SEMANTIC = [("b", 0.9), ("d", 0.6), ("a", 0.3)]


def test_convex_combination_by_hand():
    # minmax: BM25 a=1, b=1/3, c=0; cosine b=1, d=0.5, a=0; a list's missing document takes 0
    low = convex_combination(BM25, SEMANTIC, 0.25)
    assert low == [("a", pytest.approx(0.75)), ("b", pytest.approx(0.5)), ("d", pytest.approx(0.125)), ("c", 0.0)]
    high = convex_combination(BM25, SEMANTIC, 0.75)
    assert [d for d, _ in high] == ["b", "d", "a", "c"]
    assert high[0][1] == pytest.approx(0.25 / 3 + 0.75)
    # theoretical: BM25 / 8 (a=1, b=0.5, c=0.25), (cos + 1) / 1.9 (b=1, d=0.8421, a=0.6842); floors c and 0.6842
    tm = dict(convex_combination(BM25, SEMANTIC, 0.5, "theoretical"))
    assert tm["a"] == pytest.approx(0.5 * 1 + 0.5 * 1.3 / 1.9)
    assert tm["d"] == pytest.approx(0.5 * 0.25 + 0.5 * 1.6 / 1.9)
    assert convex_combination([], SEMANTIC, 0.5) == [("b", 0.5), ("d", pytest.approx(0.25)), ("a", 0.0)]
    with pytest.raises(ValueError, match="semantic_weight"):
        convex_combination(BM25, SEMANTIC, 1.5)


def test_fuse_follows_the_settings():
    assert fuse("bm25", BM25, SEMANTIC) == BM25
    assert fuse("semantic", BM25, SEMANTIC) == SEMANTIC
    plain = fuse("hybrid", BM25, SEMANTIC, HybridSettings(method="rrf", rrf_k=60, semantic_weight=0.5))
    assert plain == reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]], k=60)
    # w = 0.8: BM25 weight 0.4, semantic 1.6; k = 10
    weighted = dict(fuse("hybrid", BM25, SEMANTIC, HybridSettings(method="rrf", rrf_k=10, semantic_weight=0.8)))
    assert weighted["a"] == pytest.approx(0.4 / 11 + 1.6 / 13)
    assert weighted["d"] == pytest.approx(1.6 / 12)
    minmax = HybridSettings(method="convex", semantic_weight=0.25, normalisation="minmax")
    convex = fuse("hybrid", BM25, SEMANTIC, minmax)
    assert convex == convex_combination(BM25, SEMANTIC, 0.25, "minmax")


def test_hybrid_settings_are_checked_and_read_from_the_environment(monkeypatch, tmp_path):
    with pytest.raises(ValidationError):
        HybridSettings(semantic_weight=1.5)
    with pytest.raises(ValidationError):
        HybridSettings(method="borda")
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path))
    monkeypatch.setenv("EVIDENCE_HUB_SEARCH__HYBRID__METHOD", "rrf")
    monkeypatch.setenv("EVIDENCE_HUB_SEARCH__HYBRID__RRF_K", "20")
    hybrid = load_settings().search.hybrid
    assert (hybrid.method, hybrid.rrf_k) == ("rrf", 20.0)


FEEDBACK = HybridSettings(method="convex", semantic_weight=0.6, normalisation="minmax", feedback_docs=1,
                          feedback_weight=1.0)


def test_feedback_vector_is_rocchio_on_unit_vectors():
    query = np.array([1.0, 0.0], np.float32)
    passages = np.array([[0.0, 1.0], [0.6, 0.8]], np.float32)
    moved = feedback_vector(query, passages, 0.5)  # (1, 0) + 0.5 * (0.3, 0.9) = (1.15, 0.45)
    np.testing.assert_allclose(moved, np.array([1.15, 0.45]) / np.hypot(1.15, 0.45), atol=1e-6)
    assert moved.dtype == np.float32
    np.testing.assert_array_equal(feedback_vector(query, passages, 0.0), query)  # weight 0: unchanged
    np.testing.assert_array_equal(feedback_vector(query, np.zeros((0, 2), np.float32), 1.0), query)  # none
    with pytest.raises(ValueError, match="do not match a query vector of dimension 2"):
        feedback_vector(query, np.zeros((1, 3), np.float32), 1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        feedback_vector(query, passages, -1.0)


def test_semantic_mode_takes_no_feedback(tmp_path):
    """Feedback comes from BM25, so only hybrid uses it: semantic mode ranks by the query alone."""
    index = _tiny_index(tmp_path / "index.sqlite", FEEDBACK)
    try:
        hits = index.search(SearchQuery(text="river flood", mode="semantic"), np.array([1.0, 0.0], np.float32)).hits
    finally:
        index.close()
    assert [(h.id, round(h.score, 4)) for h in hits] == [("c", 1.0), ("b", 0.6), ("a", 0.0)]


def _tiny_index(path, hybrid: HybridSettings) -> EmbeddedIndex:
    """Three documents with 2-d unit vectors: for the query "river flood" and vector (1, 0), BM25
    ranks a (both words) above b (one word) and misses c; cosines are c 1.0, b 0.6, a 0.0."""
    index = EmbeddedIndex(path, 2, hybrid=hybrid)
    for doc_id, text, vector in (("a", "river river flood", (0.0, 1.0)), ("b", "flood plain", (0.6, 0.8)),
                                 ("c", "meadow grass", (1.0, 0.0))):
        doc = IndexedDocument(id=doc_id, url=f"http://h/{doc_id}", source="s", content_hash=doc_id,
                              title=f"Report {doc_id}", text=text)
        index.upsert(doc, [Chunk(ordinal=0, text=text, page=1)], np.array([vector], np.float32))
    return index


@pytest.mark.parametrize("hybrid, expected", [
    # plain RRF: a 1/61 + 1/63, b 2/62, c 1/61
    (HybridSettings(method="rrf", rrf_k=60, semantic_weight=0.5, feedback_docs=0),
     [("a", 1 / 61 + 1 / 63), ("b", 2 / 62), ("c", 1 / 61)]),
    # convex, minmax: BM25 a=1, b=0; cosine c=1, b=0.6, a=0
    (HybridSettings(method="convex", semantic_weight=0.4, normalisation="minmax", feedback_docs=0),
     [("a", 0.6), ("c", 0.4), ("b", 0.24)]),
    (HybridSettings(method="convex", semantic_weight=0.7, normalisation="minmax", feedback_docs=0),
     [("c", 0.7), ("b", 0.42), ("a", 0.3)]),
    # pseudo-relevance feedback from BM25's best document a (0, 1), weight 1: the query vector
    # (1, 0) becomes (1, 1)/sqrt(2), cosines b 0.990, a = c 0.707 (minmax b 1, a 0, c 0); BM25 a 1, b 0
    (FEEDBACK, [("b", 0.6), ("a", 0.4), ("c", 0.0)]),
])
def test_embedded_hybrid_search_uses_its_fusion_settings(tmp_path, hybrid, expected):
    index = _tiny_index(tmp_path / "index.sqlite", hybrid)
    try:
        hits = index.search(SearchQuery(text="river flood", mode="hybrid"), np.array([1.0, 0.0], np.float32)).hits
    finally:
        index.close()
    assert [(h.id, h.score) for h in hits] == [(d, pytest.approx(s, abs=1e-6)) for d, s in expected]


@pytest.mark.parametrize("hybrid, expected", [
    (HybridSettings(method="rrf", rrf_k=60, semantic_weight=0.5, feedback_docs=0),
     [("a", 1 / 61 + 1 / 63), ("b", 2 / 62), ("c", 1 / 61)]),
    (HybridSettings(method="convex", semantic_weight=0.7, normalisation="minmax", feedback_docs=0),
     [("c", 0.7), ("b", 0.42), ("a", 0.3)]),
    # pseudo-relevance feedback from BM25's best document a (0, 1), weight 1: the query vector
    # (1, 0) becomes (1, 1)/sqrt(2), cosines b 0.990, a = c 0.707 (minmax b 1, a 0, c 0); BM25 a 1, b 0
    (FEEDBACK, [("b", 0.6), ("a", 0.4), ("c", 0.0)]),
])
def test_opensearch_hybrid_search_uses_its_fusion_settings(hybrid, expected):
    """The same three documents and figures on OpenSearch (BM25 scale differs, minmax and ranks do
    not). Needs ``EVIDENCE_HUB_OPENSEARCH_URL``; skipped without it."""
    import os
    from uuid import uuid4

    url = os.environ.get("EVIDENCE_HUB_OPENSEARCH_URL")
    if not url:
        pytest.skip("EVIDENCE_HUB_OPENSEARCH_URL is not set (scripts/opensearch/opensearch.sh start)")
    from index.opensearch import OpenSearchIndex

    index = OpenSearchIndex(hosts=[url], dimension=2, index_prefix=f"test-fusion-{uuid4().hex[:8]}", timeout_s=60,
                            hybrid=hybrid)
    try:
        for doc_id, text, vector in (("a", "river river flood", (0.0, 1.0)), ("b", "flood plain", (0.6, 0.8)),
                                     ("c", "meadow grass", (1.0, 0.0))):
            doc = IndexedDocument(id=doc_id, url=f"http://h/{doc_id}", source="s", content_hash=doc_id,
                                  title=f"Report {doc_id}", text=text)
            index.upsert(doc, [Chunk(ordinal=0, text=text, page=1)], np.array([vector], np.float32))
        hits = index.search(SearchQuery(text="river flood", mode="hybrid"), np.array([1.0, 0.0], np.float32)).hits
    finally:
        index.drop_all()
        index.close()
    assert [(h.id, h.score) for h in hits] == [(d, pytest.approx(s, abs=1e-5)) for d, s in expected]


def test_caseless_facet_values_merge_under_the_most_frequent_spelling():
    from index.query import facet_values, merge_case_variants

    assert merge_case_variants({"NHS": 1, "nhs": 3, "Ofsted": 2}) == {"nhs": 4, "Ofsted": 2}
    assert merge_case_variants({"B": 2, "b": 2}) == {"B": 4}  # a tie: the first in code-point order
    merged = facet_values({"Alpha": 2, "ALPHA": 1, "Beta": 2}, 10, fold_case=True)
    assert [(f.value, f.count) for f in merged] == [("Alpha", 3), ("Beta", 2)]
    decomposed = facet_values({"Caf\u00e9": 2, "CAFE\u0301": 1}, 10, fold_case=True)  # NFC and NFD spellings
    assert [(f.value, f.count) for f in decomposed] == [("Caf\u00e9", 3)]
    exact = facet_values({"T1": 2, "t1": 1}, 10)  # label ids are exact: no merging without fold_case
    assert [(f.value, f.count) for f in exact] == [("T1", 2), ("t1", 1)]
