"""The OpenSearch backend against a REAL node, with the real embedding model.

Set ``EVIDENCE_HUB_OPENSEARCH_URL`` (e.g. ``http://127.0.0.1:9200``; start a local node with
``scripts/opensearch/opensearch.sh start``). Unset, the tests skip, except under ``CI=true``,
where they fail (CI starts the node). Each test uses its own index prefix and deletes its indices.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date
from uuid import uuid4

import numpy as np
import pytest

from core.models import Chunk, IndexedDocument, LabelScore
from index.backend import EmbeddingModelId, IndexMismatch, SearchIndex
from index.query import SearchFilters, SearchQuery

URL_VARIABLE = "EVIDENCE_HUB_OPENSEARCH_URL"

from tests.test_index import DOCS  # the same three documents as the embedded tests  # noqa: E402


@pytest.fixture(scope="module")
def opensearch_url() -> str:
    url = os.environ.get(URL_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{URL_VARIABLE} is not set; CI starts an OpenSearch node and must set it")
        pytest.skip(f"{URL_VARIABLE} is not set (start a node with scripts/opensearch/opensearch.sh start "
                    f"and export {URL_VARIABLE}=http://127.0.0.1:9200)")
    return url


def _drop(client, prefix: str) -> None:
    """Delete every index of ``prefix`` by name (no wildcard delete, which clusters may refuse)."""
    names = list(client.indices.get(index=f"{prefix}-*", allow_no_indices=True))
    for name in names:
        client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture()
def make_index(opensearch_url, embedder):
    from index.opensearch import OpenSearchIndex

    made = []

    def make(prefix: str | None = None, dimension: int | None = None, embedding_model=None):
        prefix = prefix or f"test-{uuid4().hex[:8]}"
        idx = OpenSearchIndex(hosts=[opensearch_url], dimension=dimension or embedder.dimension,
                              index_prefix=prefix, timeout_s=60, embedding_model=embedding_model)
        made.append(idx)
        return idx

    yield make
    for idx in made:
        idx.drop_all()
        _drop(idx.client, idx.prefix)  # anything drop_all missed
        idx.close()


def _doc(doc_id, title, text, area, year, publisher, **extra) -> IndexedDocument:
    return IndexedDocument(id=doc_id, url=f"http://h/{doc_id}", source="s", content_hash=f"hash-{doc_id}",
                           title=title, text=text, publisher=publisher, published_date=date(year, 1, 1),
                           policy_areas=[LabelScore(id=area, label=area, score=0.7)], language="en", **extra)


def _add(idx, embedder, doc_id, title, text, area, year, publisher, **extra):
    chunks = [Chunk(ordinal=0, text=text, page=1)]
    idx.upsert(_doc(doc_id, title, text, area, year, publisher, **extra), chunks, embedder.encode([text]),
               embedder.encode([title])[0])


@pytest.fixture()
def index(make_index, embedder):
    idx = make_index()
    for row in DOCS:
        _add(idx, embedder, *row)
    return idx


def _ids(index, embedder, text, mode="hybrid", **filters):
    query = SearchQuery(text=text, mode=mode, filters=SearchFilters(**filters))
    return [h.id for h in index.search(query, embedder.encode([text])[0]).hits]


def test_layout_aliases_and_mappings(index):
    assert isinstance(index, SearchIndex)
    client = index.client
    assert sorted(client.indices.get_alias(name=index.documents_alias)) == [f"{index.prefix}-documents-v1"]
    assert sorted(client.indices.get_alias(name=index.chunks_alias)) == [f"{index.prefix}-chunks-v1"]
    mapping = client.indices.get_mapping(index=index.chunks_alias)[f"{index.prefix}-chunks-v1"]["mappings"]
    vector = mapping["properties"]["vector"]
    assert vector["dimension"] == 384 and vector["method"]["engine"] == "lucene"
    assert mapping["properties"]["body"]["analyzer"] == "hub_text_v2"
    docs = client.indices.get_mapping(index=index.documents_alias)[f"{index.prefix}-documents-v1"]["mappings"]
    assert docs["properties"]["title"]["fields"]["keyword"]["type"] == "keyword"
    assert docs["properties"]["data"]["enabled"] is False
    assert index.stats() == {"documents": 3, "chunks": 3, "version": "v1",
                             "indices": {"documents": f"{index.prefix}-documents-v1",
                                         "chunks": f"{index.prefix}-chunks-v1"}}


def test_upsert_get_count_ids_chunks_and_delete(index, embedder):
    assert index.count() == 3 and index.chunk_count() == 3 and index.ids() == ["d1", "d2", "d3"]
    doc = index.get("d2")
    assert doc.title == "Violence reduction partnerships" and doc.policy_areas[0].id == "P7"
    assert doc.published_date == date(2021, 1, 1)
    assert index.content_hash_of("d2") == "hash-d2" and index.content_hash_of("nope") is None
    assert index.get("nope") is None
    chunks, vectors = index.chunks_of("d2")
    assert [c.ordinal for c in chunks] == [0] and chunks[0].page == 1
    assert vectors.dtype == np.float32 and vectors.shape == (1, 384)
    np.testing.assert_allclose(vectors[0], embedder.encode([DOCS[1][2]])[0], atol=1e-6)
    assert index.delete("d1") is True and index.delete("d1") is False
    assert index.count() == 2 and index.chunk_count() == 2 and index.ids() == ["d2", "d3"]
    assert "d1" not in _ids(index, embedder, "family hubs", "bm25")
    assert "d1" not in _ids(index, embedder, "family hubs", "semantic")
    empty_chunks, empty_vectors = index.chunks_of("d1")
    assert empty_chunks == [] and empty_vectors.shape == (0, 384)


def test_reupsert_replaces_never_duplicates(index, embedder):
    before = index.chunk_count()
    doc = index.get("d1")
    chunks, vectors = index.chunks_of("d1")
    index.upsert(doc, chunks, vectors)
    assert index.count() == 3 and index.chunk_count() == before
    # a new version with three chunks, then one: the stale chunks go
    texts = ["Family hubs open on Saturdays.", "Parents rated the hubs highly.", "Costs fell by a tenth."]
    changed = doc.model_copy(update={"content_hash": "hash-d1-v2"})
    index.upsert(changed, [Chunk(ordinal=i, text=t, page=i + 1) for i, t in enumerate(texts)], embedder.encode(texts),
                 embedder.encode([doc.title])[0])
    assert index.chunk_count() == before + 2 and index.content_hash_of("d1") == "hash-d1-v2"
    assert [c.text for c in index.chunks_of("d1")[0]] == texts
    index.upsert(changed, [Chunk(ordinal=0, text=texts[2], page=1)], embedder.encode([texts[2]]))
    assert index.chunk_count() == before and [c.text for c in index.chunks_of("d1")[0]] == [texts[2]]
    raw = index.client.count(index=index.chunks_alias, body={"query": {"term": {"doc_id": "d1"}}})["count"]
    assert raw == 1  # the title vector of the old version went too
    assert _ids(index, embedder, "Saturdays", "bm25") == []


def test_shape_mismatch_is_refused(index):
    doc = index.get("d2")
    with pytest.raises(ValueError, match="vectors shape"):
        index.upsert(doc, [Chunk(ordinal=0, text="x")], np.zeros((2, index.dimension), np.float32))
    with pytest.raises(ValueError, match="title_vector shape"):
        index.upsert(doc, [Chunk(ordinal=0, text="x")], np.ones((1, index.dimension), np.float32),
                     np.ones(3, np.float32))
    with pytest.raises(ValueError, match="needs a query vector"):
        index.search(SearchQuery(text="x", mode="semantic"))
    assert index.count() == 3 and index.chunks_of("d2")[0][0].text == DOCS[1][2]  # nothing half-written


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_each_mode_finds_the_right_document(index, embedder, mode):
    assert _ids(index, embedder, "knife crime prevention", mode)[0] == "d2"
    assert _ids(index, embedder, "Hospital discharge and social care", mode)[0] == "d3"
    assert _ids(index, embedder, "families using early help services", mode)[0] == "d1"


def test_filters_policy_area_publisher_year(index, embedder):
    assert _ids(index, embedder, "partnership", policy_area="P7") == ["d2"]
    for mode in ("bm25", "semantic", "hybrid"):
        assert set(_ids(index, embedder, "partnership", mode=mode, publisher="alpha")) <= {"d1", "d3"}
    assert set(_ids(index, embedder, "partnership", mode="semantic", publisher="alpha")) == {"d1", "d3"}
    assert _ids(index, embedder, "partnership", year_from=2022, year_to=2023) == ["d1"]
    assert _ids(index, embedder, "partnership", mode="semantic", year_from=2024) == ["d3"]
    assert _ids(index, embedder, "partnership", mode="semantic", policy_area="P9") == []
    response = index.search(SearchQuery(text="partnership", mode="semantic"), embedder.encode(["partnership"])[0])
    assert response.total == 3 and all(-1.0 <= h.score <= 1.0 for h in response.hits)  # cosine, like embedded


def test_query_language(index, embedder):
    assert _ids(index, embedder, "knife OR discharge", "bm25") and set(
        _ids(index, embedder, "knife OR discharge", "bm25")) == {"d2", "d3"}
    assert _ids(index, embedder, "police AND knife", "bm25") == ["d2"]
    assert _ids(index, embedder, "police AND hospital", "bm25") == []
    assert _ids(index, embedder, "partnership NOT police", "bm25") == ["d1"]
    assert _ids(index, embedder, "disch*", "bm25") == ["d3"]
    assert _ids(index, embedder, '"knife crime"', "bm25") == ["d2"]
    assert _ids(index, embedder, '"crime knife"', "bm25") == []


def test_bm25_snippet_highlights_and_phrase(index, embedder):
    response = index.search(SearchQuery(text='"social workers"', mode="bm25"))
    assert [h.id for h in response.hits] == ["d3"] and response.total == 1
    assert "with <mark>social workers</mark> on the ward" in response.hits[0].snippet
    assert response.hits[0].page == 1
    hit = index.search(SearchQuery(text="knife crime", mode="hybrid"), embedder.encode(["knife crime"])[0]).hits[0]
    assert hit.id == "d2" and "<mark>knife</mark>" in hit.snippet and hit.policy_areas[0].id == "P7"
    semantic = index.search(SearchQuery(text="stabbings among teenagers", mode="semantic"),
                            embedder.encode(["stabbings among teenagers"])[0]).hits[0]
    assert semantic.id == "d2" and semantic.snippet.startswith("Police, schools") and semantic.page == 1
    # the title vector (chunk -1) is the best match: the snippet shows the document's opening
    title = "Hospital discharge and social care"
    best = index.search(SearchQuery(text=title, mode="semantic"), embedder.encode([title])[0]).hits[0]
    assert best.id == "d3" and best.score == pytest.approx(1.0, abs=1e-3) and best.page == 1
    assert best.snippet.startswith("Integrated <mark>discharge</mark> teams")


def test_title_weighs_more_than_body(index, embedder):
    hits = index.search(SearchQuery(text="evaluation", mode="bm25")).hits
    assert hits[0].id == "d1"


def test_exact_title_first(index, embedder):
    # every word of this title is common; the exact-title rule puts it first
    _add(index, embedder, "d4", "To be or not to be", "A short note on hospital budgets.", "P2", 2020, "Gamma")
    for mode in ("bm25", "hybrid"):
        assert _ids(index, embedder, "To be, or not to be", mode)[0] == "d4"
        assert "d4" not in _ids(index, embedder, "to be or not to be", mode, publisher="alpha")  # filters apply
    _add(index, embedder, "d5", "Knife crime", "Notes.", "P7", 2020, "Gamma")
    assert _ids(index, embedder, "knife crime", "bm25")[:2] == ["d5", "d2"]
    assert _ids(index, embedder, "KNIFE CRIME", "hybrid")[0] == "d5"


def test_paging_and_total(index, embedder):
    full = index.search(SearchQuery(text="partnership", mode="semantic", limit=10),
                        embedder.encode(["partnership"])[0])
    page = index.search(SearchQuery(text="partnership", mode="semantic", limit=1, offset=1),
                        embedder.encode(["partnership"])[0])
    assert page.total == full.total == 3 and [h.id for h in page.hits] == [full.hits[1].id]


def test_dimension_mismatch_raises(index, make_index):
    with pytest.raises(IndexMismatch, match="384-dimensional"):
        make_index(prefix=index.prefix, dimension=768)
    reopened = make_index(prefix=index.prefix)
    assert reopened.count() == 3


def test_an_index_records_its_embedding_model_and_refuses_another(index, make_index):
    """Two models of one dimension write vectors that cannot be compared: the chunks mapping's
    ``_meta`` records the model (an index without one adopts the first model that opens it)."""
    minilm, other = EmbeddingModelId("all-MiniLM-L6-v2", "a" * 64), EmbeddingModelId("bge-small", "b" * 64)
    adopted = make_index(prefix=index.prefix, embedding_model=minilm)  # `index` was opened without a model
    meta = next(iter(adopted.client.indices.get_mapping(index=adopted.chunks_alias).values()))["mappings"]["_meta"]
    assert meta == {"embedding_model": {"name": "all-MiniLM-L6-v2", "digest": "a" * 64}}
    with pytest.raises(IndexMismatch, match="holds vectors of the embedding model 'all-MiniLM-L6-v2'.*'bge-small'"):
        make_index(prefix=index.prefix, embedding_model=other)
    assert make_index(prefix=index.prefix, embedding_model=EmbeddingModelId("/a/path/to/it", "a" * 64)).count() == 3
    assert adopted.reindex() == "v2"  # the next version carries the record
    with pytest.raises(IndexMismatch, match="holds vectors of the embedding model"):
        make_index(prefix=index.prefix, embedding_model=other)
    fresh = make_index(embedding_model=other)
    meta = next(iter(fresh.client.indices.get_mapping(index=fresh.chunks_alias).values()))["mappings"]["_meta"]
    assert meta["embedding_model"]["name"] == "bge-small"


def _open_older_index(make_index, caplog, chunks: dict):
    """Create version 1 of a fresh index prefix with ``chunks`` as the chunks index's settings and
    mappings (an index built by an earlier version of the hub) and open it, logging at WARNING.
    Returns (prefix, index)."""
    from index.opensearch import documents_mapping

    prefix = f"test-{uuid4().hex[:8]}"
    client = make_index().client
    client.indices.create(index=f"{prefix}-chunks-v1", body={**chunks, "aliases": {f"{prefix}-chunks": {}}})
    client.indices.create(index=f"{prefix}-documents-v1",
                          body={**documents_mapping(), "aliases": {f"{prefix}-documents": {}}})
    with caplog.at_level("WARNING", logger="index.opensearch"):
        return prefix, make_index(prefix)


def _warnings_on_reopen(opensearch_url, embedder, prefix, caplog) -> str:
    """What opening the index of ``prefix`` again logs at WARNING."""
    from index.opensearch import OpenSearchIndex

    caplog.clear()
    with caplog.at_level("WARNING", logger="index.opensearch"):
        OpenSearchIndex(hosts=[opensearch_url], dimension=embedder.dimension, index_prefix=prefix,
                        timeout_s=60).close()
    return caplog.text


def test_an_index_built_with_the_english_analyzer_is_reported_and_reindex_rebuilds_it(make_index, embedder,
                                                                                      opensearch_url, caplog):
    """Indices made before the chunks' own analyzer keep `english` (stop words dropped, accents
    kept): opening one logs what to do, and `reindex` builds the next version with the new analyzer."""
    from index.opensearch import chunks_mapping

    old = chunks_mapping(embedder.dimension)
    del old["settings"]["analysis"]
    for field in ("title", "body"):
        old["mappings"]["properties"][field] = {"type": "text", "analyzer": "english"}
    prefix, idx = _open_older_index(make_index, caplog, old)
    assert f"{prefix}-chunks-v1 analyses text with 'english', not 'hub_text_v2'" in caplog.text
    assert "evidence-hub reindex" in caplog.text
    _add(idx, embedder, "n1", "Naïve budgeting", "The council's naïve budget plan.", "P2", 2020, "Alpha")
    assert _ids(idx, embedder, "naive", "bm25") == []  # english keeps the accent
    assert idx.reindex() == "v2"
    assert _ids(idx, embedder, "naive", "bm25") == ["n1"]
    assert "analyses text with" not in _warnings_on_reopen(opensearch_url, embedder, prefix, caplog)


def test_an_index_tokenized_by_the_standard_tokenizer_is_reported_and_reindex_splits_apostrophes(
        make_index, embedder, opensearch_url, caplog):
    """Indices made with the first ``hub_text`` (the ``standard`` tokenizer, UAX #29) kept
    apostrophes inside words: ``children's`` was filed as ``children'``, which ``children`` never
    matched. Opening one says to reindex; the rebuilt version cuts words as FTS5 does."""
    from index.opensearch import chunks_mapping

    old = chunks_mapping(embedder.dimension)
    old["settings"]["analysis"] = {"analyzer": {
        "hub_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding", "porter_stem"]},
        "hub_words": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}
    for field in ("title", "body"):
        old["mappings"]["properties"][field]["analyzer"] = "hub_text"
        old["mappings"]["properties"][field]["fields"]["words"]["analyzer"] = "hub_words"
    prefix, idx = _open_older_index(make_index, caplog, old)
    assert f"{prefix}-chunks-v1 analyses text with 'hub_text', not 'hub_text_v2'" in caplog.text
    _add(idx, embedder, "c1", "Review", "The council reviewed children's services in Côte d'Ivoire.", "P1", 2020,
         "Alpha")
    assert _ids(idx, embedder, "children", "bm25") == [] and _ids(idx, embedder, "Ivoire", "bm25") == []
    assert idx.reindex() == "v2"
    assert _ids(idx, embedder, "children", "bm25") == ["c1"] and _ids(idx, embedder, "Ivoire", "bm25") == ["c1"]
    assert "analyses text with" not in _warnings_on_reopen(opensearch_url, embedder, prefix, caplog)


def test_an_index_without_the_words_sub_field_is_reported_and_reindex_adds_it(make_index, embedder,
                                                                              opensearch_url, caplog):
    """Indices made before the unstemmed ``words`` sub-field answer a prefix by stems only
    (``agencie*`` misses "agencies", filed as ``agenc``): opening one says to reindex, and the
    rebuilt version finds the word."""
    from index.opensearch import chunks_mapping

    old = chunks_mapping(embedder.dimension)
    for field in ("title", "body"):
        del old["mappings"]["properties"][field]["fields"]
    prefix, idx = _open_older_index(make_index, caplog, old)
    assert f"{prefix}-chunks-v1 has no unstemmed 'words' sub-field" in caplog.text
    _add(idx, embedder, "b1", "Plans", "The agencies budgeted for repairs.", "P2", 2020, "Alpha")
    assert _ids(idx, embedder, "agenc*", "bm25") == ["b1"]
    assert _ids(idx, embedder, "agencie*", "bm25") == []  # the stem is agenc
    assert idx.reindex() == "v2"
    assert _ids(idx, embedder, "agencie*", "bm25") == ["b1"]
    assert "'words' sub-field" not in _warnings_on_reopen(opensearch_url, embedder, prefix, caplog)


def test_reindex_under_concurrent_search_load(index, embedder):
    vector = embedder.encode(["knife crime"])[0]
    stop, errors, empties, searches = threading.Event(), [], [], [0]

    def load():
        modes = ["bm25", "hybrid", "semantic"]
        while not stop.is_set():
            mode = modes[searches[0] % 3]
            try:
                response = index.search(SearchQuery(text="knife crime", mode=mode), vector)
                if not response.hits or response.hits[0].id != "d2":
                    empties.append((mode, response.total))
            except Exception as exc:  # noqa: BLE001 - every error is a failure here
                errors.append(repr(exc))
            searches[0] += 1

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        assert index.reindex() == "v2"
        assert index.reindex() == "v3"
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    assert errors == [] and empties == []
    assert searches[0] > 5
    stats = index.stats()
    assert stats["version"] == "v3" and stats["documents"] == 3 and stats["chunks"] == 3
    assert stats["indices"] == {"documents": f"{index.prefix}-documents-v3", "chunks": f"{index.prefix}-chunks-v3"}
    # the old versions are kept until dropped
    assert index.client.indices.exists(index=f"{index.prefix}-chunks-v1")
    assert index.drop_old_versions() == sorted(f"{index.prefix}-{k}-v{n}" for k in ("chunks", "documents")
                                               for n in (1, 2))
    assert not index.client.indices.exists(index=f"{index.prefix}-chunks-v1")
    # the data came across whole: vectors, title vectors, texts
    raw = index.client.count(index=index.chunks_alias)["count"]
    assert raw == 6  # 3 chunks + 3 title vectors
    assert _ids(index, embedder, "Hospital discharge and social care", "semantic")[0] == "d3"
    assert index.get("d1").title == DOCS[0][1]
    _add(index, embedder, "d9", "New after reindex", "Written through the alias.", "P1", 2025, "Alpha")
    assert index.count() == 4 and index.client.count(index=f"{index.prefix}-documents-v3")["count"] == 4


class CountingClient:
    """Passes calls through to the real client, counting ``bulk`` requests."""

    def __init__(self, client):
        self.client, self.bulk_calls = client, 0

    def bulk(self, **kwargs):
        self.bulk_calls += 1
        return self.client.bulk(**kwargs)


def test_bulk_partial_failure_on_the_real_node(index):
    from index.opensearch import bulk_load

    good = {"doc_id": "x1", "ordinal": 0, "page": 1, "body": "fine", "vector": [1.0] + [0.0] * 383}
    bad = {**good, "doc_id": "x2", "ordinal": "many"}  # wrong type for an integer field
    extra = {**good, "doc_id": "x3", "colour": "red"}   # not in the strict mapping
    client = CountingClient(index.client)
    report = bulk_load(client, [{"_index": index.chunks_alias, "_id": f"x:{i}", "_source": s}
                                for i, s in enumerate([good, bad, extra])], max_retries=3, refresh=True)
    assert client.bulk_calls == 1 and report.retried == 0  # 400s are never retried
    assert report.succeeded == 1
    assert [(i, s) for i, s, _ in report.failed] == [("x:1", 400), ("x:2", 400)]
    assert report.failed[0][2].startswith("mapper_parsing_exception: failed to parse field [ordinal] of type "
                                          "[integer]")
    assert "strict_dynamic_mapping_exception" in report.failed[1][2] and "[colour]" in report.failed[1][2]
    assert index.client.count(index=index.chunks_alias, body={"query": {"term": {"doc_id": "x1"}}})["count"] == 1


def test_case_017_bulk_body_on_the_real_node(opensearch_url, cases_dir):
    from opensearchpy import OpenSearch

    from index.opensearch import bulk_load

    folder = cases_dir / "017-opensearch-bulk-partial-failure"
    name = f"test-{uuid4().hex[:8]}-docs-test"
    client = OpenSearch(hosts=[opensearch_url])
    client.indices.create(index=name, body=json.loads((folder / "index_mapping.json").read_text()))
    try:
        lines = [json.loads(line) for line in (folder / "bulk_body.ndjson").read_text().splitlines() if line]
        actions = [{"_index": name, "_id": meta["index"]["_id"], "_source": source}
                   for meta, source in zip(lines[::2], lines[1::2])]
        report = bulk_load(client, actions, refresh=True)
        assert report.succeeded == 2 and report.retried == 0
        assert [(i, s) for i, s, _ in report.failed] == [("doc-2", 400), ("doc-4", 400), ("doc-5", 400)]
        assert "[published_at]" in report.failed[0][2] and "[word_count]" in report.failed[1][2]
        assert "[lang]" in report.failed[2][2]
        assert client.count(index=name)["count"] == 2  # what did index stays indexed
    finally:
        client.indices.delete(index=name)
        client.close()


def test_upsert_raises_naming_failed_items_and_leaves_nothing_half_written(index, embedder):
    doc = index.get("d3")
    zero = np.zeros((1, index.dimension), np.float32)  # cosine similarity is undefined for a zero vector
    with pytest.raises(RuntimeError) as error:
        index.upsert(doc, [Chunk(ordinal=0, text="zero", page=1)], zero, embedder.encode([doc.title])[0])
    message = str(error.value)
    assert "d3:0 (400)" in message and "indexing document d3 failed" in message
    assert index.get("d3") is None and index.content_hash_of("d3") is None
    assert index.client.count(index=index.chunks_alias, body={"query": {"term": {"doc_id": "d3"}}})["count"] == 0
    assert index.count() == 2
