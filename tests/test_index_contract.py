"""One contract, every backend: the same tests against the embedded index and a real OpenSearch
node, both holding the real corpus (ingested once by the ``corpus_run`` fixture; the OpenSearch
copy is loaded from the same documents, chunks and vectors).

The OpenSearch node is started by ``make test`` (scripts/opensearch/opensearch.sh) and found
through ``EVIDENCE_HUB_OPENSEARCH_URL``; without it these tests skip, except under ``CI=true``.
"""

from __future__ import annotations

import os
import uuid

import pytest

from core.models import Chunk
from crawl.urls import file_name_of
from index.backend import SearchIndex
from index.query import SearchFilters, SearchQuery, title_key

pytestmark = pytest.mark.slow


def opensearch_url() -> str:
    """The test node's URL, or skip (fail under CI=true) when none is configured."""
    url = os.environ.get("EVIDENCE_HUB_OPENSEARCH_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("EVIDENCE_HUB_OPENSEARCH_URL is not set; `make test` starts a node and sets it")
        pytest.skip("no OpenSearch node: set EVIDENCE_HUB_OPENSEARCH_URL (make test starts one)")
    return url


@pytest.fixture(scope="session")
def opensearch_corpus(corpus_run):
    """A real OpenSearch index holding the same corpus as the embedded one."""
    from index.opensearch import OpenSearchIndex

    url = opensearch_url()
    ctx = corpus_run[3]
    index = OpenSearchIndex(hosts=[url], dimension=ctx.embedder.dimension,
                            index_prefix=f"contract-{uuid.uuid4().hex[:8]}")
    for doc_id in ctx.index.ids():
        doc = ctx.index.get(doc_id)
        chunks, vectors = ctx.index.chunks_of(doc_id)
        title_vector = ctx.embedder.encode([doc.title])[0] if doc.title else None
        index.upsert(doc, chunks, vectors, title_vector)
    yield index
    index.drop_all()
    index.close()


@pytest.fixture(params=["embedded", "opensearch"])
def backend(request, corpus_run) -> SearchIndex:
    if request.param == "embedded":
        return corpus_run[3].index
    return request.getfixturevalue("opensearch_corpus")


@pytest.fixture(scope="session")
def embed(corpus_run):
    cache: dict[str, object] = {}

    def vector(text: str):
        if text not in cache:
            cache[text] = corpus_run[3].embedder.encode([text])[0]
        return cache[text]

    return vector


def _search(index, embed, text, mode="hybrid", limit=10, offset=0, **filters):
    query = SearchQuery(text=text, mode=mode, limit=limit, offset=offset, filters=SearchFilters(**filters))
    return index.search(query, embed(text) if mode != "bm25" else None)


def test_same_documents_and_metadata(backend, corpus_run):
    reference = corpus_run[3].index
    assert isinstance(backend, SearchIndex)
    assert backend.ids() == reference.ids()
    assert backend.count() == reference.count()
    assert backend.chunk_count() == reference.chunk_count()
    some = reference.ids()[0]
    assert backend.get(some).model_dump() == reference.get(some).model_dump()
    assert backend.content_hash_of(some) == reference.content_hash_of(some)
    assert backend.get("no-such-id") is None and backend.content_hash_of("no-such-id") is None


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_exact_title_first_for_every_document(backend, embed, mode):
    docs = [backend.get(i) for i in backend.ids()]
    groups: dict[str, set[str]] = {}
    for doc in docs:
        groups.setdefault(title_key(doc.title or ""), set()).add(doc.id)
    misses = []
    for doc in docs:
        if doc.title and len(title_key(doc.title).split()) >= 2:
            twins = groups[title_key(doc.title)]
            hits = _search(backend, embed, doc.title, mode, limit=len(twins)).hits
            if doc.id not in {h.id for h in hits}:
                misses.append((doc.title, [h.title for h in hits]))
    assert not misses


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_results_are_documents_with_snippets(backend, embed, mode):
    response = _search(backend, embed, "multi-agency safeguarding children", mode, limit=20)
    ids = [h.id for h in response.hits]
    assert len(ids) == len(set(ids)) == 20
    assert response.total >= 20
    assert all(h.snippet for h in response.hits)
    if mode != "semantic":
        assert any("<mark>" in h.snippet for h in response.hits)


def test_paging_is_consistent(backend, embed):
    whole = [h.id for h in _search(backend, embed, "homelessness", "bm25", limit=10).hits]
    first = [h.id for h in _search(backend, embed, "homelessness", "bm25", limit=5).hits]
    second = [h.id for h in _search(backend, embed, "homelessness", "bm25", limit=5, offset=5).hits]
    assert first + second == whole


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_filters(backend, embed, mode):
    for hit in _search(backend, embed, "children and families", mode, limit=20, policy_area="P1").hits:
        assert "P1" in {label.id for label in hit.policy_areas}
    for hit in _search(backend, embed, "travail", mode, limit=20, language="fr").hits:
        assert hit.language == "fr"
    for hit in _search(backend, embed, "inspection", mode, limit=20, year_from=2018, year_to=2020).hits:
        assert hit.published_date is not None and 2018 <= hit.published_date.year <= 2020
    assert _search(backend, embed, "inspection", mode, publisher="No Such Publisher").hits == []


def test_phrase_and_boolean(backend, embed):
    phrase = _search(backend, embed, '"Joint targeted area inspection"', "bm25", limit=20).hits
    assert phrase and all("ofsted-jtai" in file_name_of(h.url) or "inspection" in (h.title or "").lower()
                          for h in phrase[:5])
    without = _search(backend, embed, '"Joint targeted area inspection" NOT Durham', "bm25", limit=50).hits
    assert all("durham" not in file_name_of(h.url) for h in without)
    assert len(without) < len(_search(backend, embed, '"Joint targeted area inspection"', "bm25", limit=50).hits)
    prefix = _search(backend, embed, "homeless*", "bm25", limit=5).hits
    assert prefix


def test_upsert_replaces_and_delete_removes(backend, embed, corpus_run):
    reference = corpus_run[3].index
    source_id = reference.ids()[0]
    doc = reference.get(source_id).model_copy(update={"id": "contract-probe", "url": "http://probe.test/x",
                                                      "title": "Zanzibar probe document"})
    chunks = [Chunk(ordinal=0, text="quokka marmalade zanzibar", page=1)]
    vectors = corpus_run[3].embedder.encode([chunks[0].text])
    before = backend.count()
    backend.upsert(doc, chunks, vectors)
    backend.upsert(doc, chunks, vectors)
    assert backend.count() == before + 1
    assert [h.id for h in _search(backend, embed, "quokka marmalade", "bm25").hits] == ["contract-probe"]
    assert backend.delete("contract-probe") is True and backend.delete("contract-probe") is False
    assert backend.count() == before
    assert _search(backend, embed, "quokka marmalade", "bm25").hits == []


def test_bad_shapes_rejected(backend, corpus_run):
    import numpy as np

    doc = corpus_run[3].index.get(corpus_run[3].index.ids()[0])
    with pytest.raises(ValueError):
        backend.upsert(doc, [Chunk(ordinal=0, text="x")], np.zeros((2, backend.dimension), np.float32))
    assert backend.get(doc.id).model_dump() == doc.model_dump()
