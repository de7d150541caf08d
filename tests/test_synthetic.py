"""The synthetic benchmark corpus (benchmarks/synthetic.py) and ``upsert_many`` on both backends.

The embedded backend always runs. The OpenSearch backend needs ``EVIDENCE_HUB_OPENSEARCH_URL``;
unset, its tests skip, except under ``CI=true``, where they fail. Each OpenSearch test uses its own
index prefix and deletes its indices.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from uuid import uuid4

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not an installed package

from benchmarks.synthetic import DIMENSION, POLICY_AREAS, PUBLISHERS, THEMES, YEARS, generate, queries  # noqa: E402
from core.models import Chunk  # noqa: E402
from index.backend import SearchIndex  # noqa: E402
from index.query import SearchFilters, SearchQuery  # noqa: E402

URL_VARIABLE = "EVIDENCE_HUB_OPENSEARCH_URL"


# -- the generator ------------------------------------------------------------------------------

def test_generate_is_deterministic_and_prefix_stable():
    first = list(generate(30, seed=3))
    again = list(generate(30, seed=3))
    assert [d.model_dump() for d, *_ in first] == [d.model_dump() for d, *_ in again]
    for (_, c1, v1, t1), (_, c2, v2, t2) in zip(first, again):
        assert c1 == c2 and np.array_equal(v1, v2) and np.array_equal(t1, t2)
    prefix = list(generate(10, seed=3))
    assert [d.id for d, *_ in prefix] == [d.id for d, *_ in first[:10]]
    tail = list(generate(5, seed=3, start=25))
    assert [d.id for d, *_ in tail] == [d.id for d, *_ in first[25:]]
    other = list(generate(10, seed=4))
    assert not {d.id for d, *_ in other} & {d.id for d, *_ in first}


def test_generated_documents_have_the_promised_shape():
    items = list(generate(300))
    assert len({d.id for d, *_ in items}) == 300
    for doc, chunks, vectors, title_vector in items:
        assert 1 <= len(chunks) <= 3 and [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert all(100 <= len(c.text.split()) <= 200 for c in chunks)
        assert vectors.dtype == np.float32 and vectors.shape == (len(chunks), DIMENSION)
        assert title_vector.dtype == np.float32 and title_vector.shape == (DIMENSION,)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
        assert abs(np.linalg.norm(title_vector) - 1) < 1e-5
        assert doc.title and doc.publisher in PUBLISHERS
        assert YEARS[0] <= doc.published_date.year <= YEARS[1]
        assert 1 <= len(doc.policy_areas) <= 3 and 0 <= len(doc.themes) <= 3
        assert {l.id for l in doc.policy_areas} <= set(POLICY_AREAS) and {l.id for l in doc.themes} <= set(THEMES)
        assert len({l.id for l in doc.policy_areas}) == len(doc.policy_areas)
        assert all(0 < l.score <= 1 for l in doc.policy_areas + doc.themes)
    # clustered: a document's chunks are much closer to each other than to other documents' on average
    title_vectors = np.stack([t for *_, t in items])
    sims = title_vectors @ title_vectors.T
    off = sims[~np.eye(len(items), dtype=bool)]
    assert np.median(off) < 0.1 and np.percentile(off, 99) > 0.4
    # a Zipf vocabulary: the commonest word is far commoner than the median one
    words = " ".join(c.text for _, chunks, _, _ in items for c in chunks).split()
    counts = np.sort(np.unique(words, return_counts=True)[1])[::-1]
    assert len(counts) > 3000 and counts[0] > 50 * np.median(counts)


def test_queries_are_deterministic():
    a, b = queries(20, seed=7), queries(20, seed=7)
    assert [(t, f) for t, _, f in a] == [(t, f) for t, _, f in b]
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    for text, vector, filters in a:
        assert text.strip() and vector.shape == (DIMENSION,) and abs(np.linalg.norm(vector) - 1) < 1e-5
        assert isinstance(filters, SearchFilters) and filters != SearchFilters()
    assert [t for t, *_ in queries(20, seed=8)] != [t for t, *_ in a]


# -- upsert_many on both backends -------------------------------------------------------------

@pytest.fixture(params=["embedded", "opensearch"])
def backend(request, tmp_path):
    """An empty index of each backend, dimension 384."""
    if request.param == "embedded":
        from index.embedded import EmbeddedIndex

        index = EmbeddedIndex(tmp_path / "index.sqlite", dimension=DIMENSION)
        yield index
        index.close()
        return
    url = os.environ.get(URL_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{URL_VARIABLE} is not set; CI starts an OpenSearch node and must set it")
        pytest.skip(f"{URL_VARIABLE} is not set (start a node with scripts/opensearch/opensearch.sh start)")
    from index.opensearch import OpenSearchIndex

    index = OpenSearchIndex(hosts=[url], dimension=DIMENSION, index_prefix=f"test-synth-{uuid4().hex[:8]}",
                            timeout_s=60)
    try:
        yield index
    finally:
        index.drop_all()
        index.close()


def test_upsert_many_loads_counts_and_searches(backend):
    assert isinstance(backend, SearchIndex)
    items = list(generate(120, seed=11))
    backend.upsert_many(items[:60])
    backend.upsert_many(items[60:])
    backend.upsert_many([])  # a no-op
    assert backend.count() == 120
    assert backend.chunk_count() == sum(len(chunks) for _, chunks, _, _ in items)
    assert backend.ids() == sorted(d.id for d, *_ in items)
    doc, chunks, vectors, _ = items[42]
    assert backend.get(doc.id) == doc
    assert backend.content_hash_of(doc.id) == doc.content_hash
    stored_chunks, stored_vectors = backend.chunks_of(doc.id)
    assert stored_chunks == chunks and np.allclose(stored_vectors, vectors, atol=1e-6)

    # BM25: the whole title puts the document first; semantic: its own chunk vector does
    hits = backend.search(SearchQuery(text=doc.title, mode="bm25")).hits
    assert hits and hits[0].id == doc.id
    semantic = backend.search(SearchQuery(text="x", mode="semantic"), vectors[0]).hits
    assert semantic[0].id == doc.id and semantic[0].score == pytest.approx(1.0, abs=1e-3)
    area = doc.policy_areas[0].id
    year = doc.published_date.year
    hybrid = backend.search(SearchQuery(text=doc.title, mode="hybrid", limit=50,
                                        filters=SearchFilters(policy_area=area, year_from=year, year_to=year)),
                            vectors[0]).hits
    assert hybrid[0].id == doc.id
    assert all(any(l.id == area for l in h.policy_areas) and h.published_date.year == year for h in hybrid)
    # a filter the document fails excludes it
    other_year = YEARS[0] if year != YEARS[0] else YEARS[1]
    excluded = backend.search(SearchQuery(text="x", mode="semantic", limit=200,
                                          filters=SearchFilters(year_from=other_year, year_to=other_year)),
                              vectors[0]).hits
    assert doc.id not in {h.id for h in excluded}


def test_upsert_many_replaces_like_upsert(backend):
    items = list(generate(20, seed=12))
    backend.upsert_many(items)
    before = backend.chunk_count()
    changed = []
    for doc, chunks, vectors, title_vector in items[:5]:  # shrink to one chunk, new title and hash
        new_doc = doc.model_copy(update={"title": f"Replacement title {doc.id}", "content_hash": "new-" + doc.id})
        changed.append((new_doc, [Chunk(ordinal=0, page=1, text="replacement body text zyxwv")], vectors[:1],
                        title_vector))
    # a doc id given twice in one batch: the last one wins (as sequential upserts would give)
    first, *_ = changed[0]
    changed.insert(0, (first.model_copy(update={"title": "superseded"}), [Chunk(ordinal=k, text=f"old {k}")
                                                                          for k in range(3)],
                       np.tile(items[0][2][:1], (3, 1)), None))
    backend.upsert_many(changed)
    assert backend.count() == 20
    removed = sum(len(chunks) - 1 for _, chunks, _, _ in items[:5])
    assert backend.chunk_count() == before - removed
    for new_doc, *_ in changed[1:]:
        assert backend.get(new_doc.id).title == new_doc.title
        assert backend.content_hash_of(new_doc.id) == new_doc.content_hash
        stored, vectors = backend.chunks_of(new_doc.id)
        assert [c.text for c in stored] == ["replacement body text zyxwv"] and vectors.shape == (1, DIMENSION)
    found = backend.search(SearchQuery(text="zyxwv", mode="bm25", limit=50)).hits
    assert {h.id for h in found} == {d.id for d, *_ in changed}
    assert not backend.search(SearchQuery(text="superseded", mode="bm25")).hits
    # untouched documents are intact
    doc, chunks, *_ = items[10]
    assert backend.get(doc.id) == doc and backend.chunks_of(doc.id)[0] == chunks


def test_upsert_many_checks_every_shape_before_writing(backend):
    items = list(generate(5, seed=13))
    bad_doc, bad_chunks, bad_vectors, bad_title = items[3]
    items[3] = (bad_doc, bad_chunks, np.zeros((len(bad_chunks) + 1, DIMENSION), np.float32), bad_title)
    with pytest.raises(ValueError, match=bad_doc.id):
        backend.upsert_many(items)
    assert backend.count() == 0 and backend.chunk_count() == 0


def test_upsert_many_matches_sequential_upserts(backend, tmp_path):
    """Same documents, chunks and vectors as one upsert per item (compared on the embedded index)."""
    from index.embedded import EmbeddedIndex

    items = list(generate(15, seed=14))
    reference = EmbeddedIndex(tmp_path / "reference.sqlite", dimension=DIMENSION)
    try:
        for item in items:
            reference.upsert(*item)
        backend.upsert_many(items)
        assert backend.ids() == reference.ids()
        assert backend.count() == reference.count() and backend.chunk_count() == reference.chunk_count()
        for doc_id in reference.ids():
            assert backend.get(doc_id) == reference.get(doc_id)
            mine, theirs = backend.chunks_of(doc_id), reference.chunks_of(doc_id)
            assert mine[0] == theirs[0] and np.allclose(mine[1], theirs[1], atol=1e-6)
    finally:
        reference.close()
