"""One contract, every backend: the same tests against the embedded index and a real OpenSearch
node.

* The small fixture (``small``): eight hand-made documents with known metadata, loaded into each
  backend with the real embedding model; exact expected values for filters, facets, date sort,
  cursors and more-like-this. Seconds per backend.
* The real corpus (``backend``, marked ``slow``): ingested once by the ``corpus_run`` fixture; the
  OpenSearch copy is loaded from the same documents, chunks and vectors.

The OpenSearch node is started by ``make test`` (scripts/opensearch/opensearch.sh) and found
through ``EVIDENCE_HUB_OPENSEARCH_URL``; without it the OpenSearch tests skip, except under
``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from core.models import Chunk, IndexedDocument, LabelScore
from crawl.urls import file_name_of
from index.backend import SearchIndex
from index.query import FacetValue, SearchFilters, SearchQuery, title_key

slow = pytest.mark.slow


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


def _search(index, embed, text, mode="hybrid", limit=10, offset=0, facets=(), sort="relevance", cursor=None,
            facet_size=50, **filters):
    query = SearchQuery(text=text, mode=mode, limit=limit, offset=offset, filters=SearchFilters(**filters),
                        facets=list(facets), facet_size=facet_size, sort=sort, cursor=cursor)
    return index.search(query, embed(text) if mode != "bm25" else None)


def _walk(index, embed, text, mode, page_size, **kwargs) -> tuple[list[str], int]:
    """Every id of a result list, page by page through ``next_cursor``; and the number of pages."""
    ids, cursor, pages = [], None, 0
    while True:
        response = _search(index, embed, text, mode, limit=page_size, cursor=cursor, **kwargs)
        ids += [h.id for h in response.hits]
        pages += 1
        cursor = response.next_cursor
        if cursor is None:
            return ids, pages
        assert len(response.hits) == page_size and pages < 1000


@slow
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


@slow
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


@slow
@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_results_are_documents_with_snippets(backend, embed, mode):
    response = _search(backend, embed, "multi-agency safeguarding children", mode, limit=20)
    ids = [h.id for h in response.hits]
    assert len(ids) == len(set(ids)) == 20
    assert response.total >= 20
    assert all(h.snippet for h in response.hits)
    if mode != "semantic":
        assert any("<mark>" in h.snippet for h in response.hits)


@slow
def test_paging_is_consistent(backend, embed):
    whole = [h.id for h in _search(backend, embed, "homelessness", "bm25", limit=10).hits]
    first = [h.id for h in _search(backend, embed, "homelessness", "bm25", limit=5).hits]
    second = [h.id for h in _search(backend, embed, "homelessness", "bm25", limit=5, offset=5).hits]
    assert first + second == whole


@slow
@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_filters(backend, embed, mode):
    for hit in _search(backend, embed, "children and families", mode, limit=20, policy_area="P1").hits:
        assert "P1" in {label.id for label in hit.policy_areas}
    for hit in _search(backend, embed, "travail", mode, limit=20, language="fr").hits:
        assert hit.language == "fr"
    for hit in _search(backend, embed, "inspection", mode, limit=20, year_from=2018, year_to=2020).hits:
        assert hit.published_date is not None and 2018 <= hit.published_date.year <= 2020
    assert _search(backend, embed, "inspection", mode, publisher="No Such Publisher").hits == []


@slow
def test_phrase_and_boolean(backend, embed):
    phrase = _search(backend, embed, '"Joint targeted area inspection"', "bm25", limit=20).hits
    assert phrase and all("ofsted-jtai" in file_name_of(h.url) or "inspection" in (h.title or "").lower()
                          for h in phrase[:5])
    without = _search(backend, embed, '"Joint targeted area inspection" NOT Durham', "bm25", limit=50).hits
    assert all("durham" not in file_name_of(h.url) for h in without)
    assert len(without) < len(_search(backend, embed, '"Joint targeted area inspection"', "bm25", limit=50).hits)
    prefix = _search(backend, embed, "homeless*", "bm25", limit=5).hits
    assert prefix


@slow
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


@slow
def test_bad_shapes_rejected(backend, corpus_run):
    import numpy as np

    doc = corpus_run[3].index.get(corpus_run[3].index.ids()[0])
    with pytest.raises(ValueError):
        backend.upsert(doc, [Chunk(ordinal=0, text="x")], np.zeros((2, backend.dimension), np.float32))
    assert backend.get(doc.id).model_dump() == doc.model_dump()


# -- the query model on the real corpus -------------------------------------------------------------

@slow
def test_bm25_facets_count_the_whole_result_set(backend, embed):
    response = _search(backend, embed, "homelessness", "bm25", limit=3, facets=["policy_area", "doc_type", "year",
                                                                              "language", "source"])
    assert len(response.hits) == 3 and response.total > 3
    everything = _search(backend, embed, "homelessness", "bm25", limit=1000)
    assert len(everything.hits) == everything.total == response.total
    for name, attribute in (("doc_type", "doc_type"), ("language", "language")):
        expected: dict[str, int] = {}
        for hit in everything.hits:
            if getattr(hit, attribute):
                expected[getattr(hit, attribute)] = expected.get(getattr(hit, attribute), 0) + 1
        assert {f.value: f.count for f in response.facets[name]} == expected
    policy = {}
    for hit in everything.hits:
        for label in hit.policy_areas:
            policy[label.id] = policy.get(label.id, 0) + 1
    assert {f.value: f.count for f in response.facets["policy_area"]} == policy
    counts = [(-f.count, f.value) for f in response.facets["policy_area"]]
    assert counts == sorted(counts) and response.facets["policy_area"]
    for value in response.facets["policy_area"][:3]:  # a facet count is the total with that filter
        assert _search(backend, embed, "homelessness", "bm25", policy_area=value.value).total == value.count
    years = {f.value: f.count for f in response.facets["year"]}
    assert sum(years.values()) == sum(1 for h in everything.hits if h.published_date)
    assert {f.value for f in response.facets["source"]} <= {"corpus", "corpus-feed"}


@slow
@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_cursor_pages_neither_repeat_nor_skip(backend, embed, mode):
    whole = [h.id for h in _search(backend, embed, "children social care", mode, limit=1000).hits]
    assert len(whole) > 20
    walked, pages = _walk(backend, embed, "children social care", mode, 7)
    assert walked == whole and len(set(walked)) == len(walked) and pages == -(-len(whole) // 7)
    dated = [h for h in _search(backend, embed, "children social care", mode, limit=1000, sort="date").hits]
    assert {h.id for h in dated} == set(whole)
    days = [h.published_date for h in dated]
    known = [d for d in days if d is not None]
    assert known == sorted(known, reverse=True) and days == known + [None] * (len(days) - len(known))
    assert _walk(backend, embed, "children social care", mode, 11, sort="date")[0] == [h.id for h in dated]


@slow
def test_corpus_filters_on_evidence_type_and_source(backend, embed):
    types = _search(backend, embed, "evaluation", "bm25", limit=1, facets=["evidence_type"]).facets["evidence_type"]
    for value in types[:3]:
        response = _search(backend, embed, "evaluation", "bm25", limit=100, evidence_type=value.value)
        assert response.total == value.count
        assert all(value.value in {label.id for label in h.evidence_types} for h in response.hits)
    assert _search(backend, embed, "evaluation", "hybrid", evidence_type="E999").hits == []
    sources = _search(backend, embed, "evaluation", "bm25", limit=1, facets=["source"]).facets["source"]
    assert sources
    for value in sources:
        hits = _search(backend, embed, "evaluation", "semantic", limit=50, source=value.value.upper()).hits
        assert hits and all(h.source == value.value for h in hits)


@slow
def test_corpus_similar_documents(backend, corpus_run):
    doc_id = corpus_run[3].index.ids()[0]
    response = backend.similar(doc_id, limit=8)
    assert len(response.hits) == 8 and doc_id not in {h.id for h in response.hits}
    scores = [h.score for h in response.hits]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)
    assert all(h.snippet for h in response.hits)
    with pytest.raises(KeyError, match="no-such-id"):
        backend.similar("no-such-id")


# -- the query model on a small fixture with known values ------------------------------------------

# id, title, text, publisher, source, published, policy area, evidence types, doc type, language
SMALL = [
    ("s1", "Family hubs: a partnership evaluation", "Family hubs bring health visitors, early help and voluntary "
     "groups under one roof. The evaluation found families used more services.", "Alpha", "alpha-feed",
     date(2023, 3, 1), "P1", ["E1"], "evaluation", "en"),
    ("s2", "Violence reduction partnerships", "Police, schools and youth workers share data to prevent knife "
     "crime. The partnership board meets monthly.", "Beta", "beta-site", date(2021, 6, 1), "P7", ["E2"], "report",
     "en"),
    ("s3", "Hospital discharge and social care", "Integrated discharge teams move older patients home faster with "
     "social workers on the ward.", "Alpha", "alpha-feed", date(2024, 1, 10), "P2", ["E1"], "report", "en"),
    ("s4", "Housing partnership boards", "Councils and housing associations pool budgets to prevent homelessness "
     "through a partnership board.", "Gamma", "gamma-list", None, "P4", ["E3"], "guidance", "en"),
    ("s5", "Joint commissioning review", "A review of joint commissioning across health and care: the partnership "
     "pooled budgets and shared staff.", "Beta", "beta-site", date(2023, 3, 1), "P2", ["E1", "E2"], "report", "en"),
    ("s6", "Partenariats locaux pour l'emploi", "Les partenariats locaux réunissent les employeurs et les services "
     "publics de l'emploi.", "Alpha", "alpha-feed", date(2019, 5, 5), "P5", [], "report", "fr"),
    ("s7", "Community safety annual report", "The community safety partnership brought police, probation and "
     "councils together to cut reoffending.", "Gamma", "gamma-list", date(2022, 11, 30), "P7", ["E3"], "report",
     "en"),
    ("s8", "Integrated care systems", "Integrated care systems join up NHS trusts and local authorities to plan "
     "services.", "Beta", "beta-site", date(2020, 2, 2), "P2", [], "briefing", "en"),
]
PARTNERSHIP = {"s1", "s2", "s4", "s5", "s7"}  # the documents whose title or text says partnership(s)


def _small_docs(embedder):
    for doc_id, title, text, publisher, source, published, area, types, doc_type, language in SMALL:
        doc = IndexedDocument(
            id=doc_id, url=f"http://small.test/{doc_id}", source=source, content_hash=f"hash-{doc_id}", title=title,
            text=text, publisher=publisher, published_date=published, doc_type=doc_type, language=language,
            policy_areas=[LabelScore(id=area, label=area, score=0.8)],
            evidence_types=[LabelScore(id=t, label=f"Evidence {t}", score=0.7) for t in types])
        yield doc, [Chunk(ordinal=0, text=text, page=1)], embedder.encode([text]), embedder.encode([title])[0]


def _fresh_index(backend: str, name: str, embedder, tmp_path_factory, items: list):
    """A new index of ``backend`` (embedded or opensearch) loaded with ``upsert_many(items)``:
    yields it, then drops (OpenSearch) and closes it."""
    if backend == "embedded":
        from index.embedded import EmbeddedIndex

        index = EmbeddedIndex(tmp_path_factory.mktemp(name) / "index.sqlite", embedder.dimension)
    else:
        from index.opensearch import OpenSearchIndex

        index = OpenSearchIndex(hosts=[opensearch_url()], dimension=embedder.dimension,
                                index_prefix=f"contract-{name}-{uuid.uuid4().hex[:8]}", timeout_s=60)
    index.upsert_many(items)
    yield index
    if backend == "opensearch":
        index.drop_all()
    index.close()


@pytest.fixture(scope="module", params=["embedded", "opensearch"])
def small(request, embedder, tmp_path_factory):
    """The eight SMALL documents in a fresh index of each backend (loaded with ``upsert_many``)."""
    yield from _fresh_index(request.param, "small", embedder, tmp_path_factory, list(_small_docs(embedder)))


@pytest.fixture(scope="module")
def small_embed(embedder):
    cache: dict[str, object] = {}

    def vector(text: str):
        if text not in cache:
            cache[text] = embedder.encode([text])[0]
        return cache[text]

    return vector


def _facets(response) -> dict[str, list[tuple[str, int]]]:
    return {name: [(f.value, f.count) for f in values] for name, values in response.facets.items()}


ALL_FACETS = ["theme", "policy_area", "evidence_type", "publisher", "year", "doc_type", "language", "source"]


def test_small_bm25_result_set_and_facets(small, small_embed):
    response = _search(small, small_embed, "partnership", "bm25", limit=2, facets=ALL_FACETS)
    assert response.total == 5 and len(response.hits) == 2 and response.next_cursor
    assert {h.id for h in _search(small, small_embed, "partnership", "bm25", limit=50).hits} == PARTNERSHIP
    assert _facets(response) == {
        "theme": [],
        "policy_area": [("P7", 2), ("P1", 1), ("P2", 1), ("P4", 1)],
        "evidence_type": [("E1", 2), ("E2", 2), ("E3", 2)],
        "publisher": [("Beta", 2), ("Gamma", 2), ("Alpha", 1)],
        "year": [("2023", 2), ("2021", 1), ("2022", 1)],
        "doc_type": [("report", 3), ("evaluation", 1), ("guidance", 1)],
        "language": [("en", 5)],
        "source": [("beta-site", 2), ("gamma-list", 2), ("alpha-feed", 1)],
    }
    # the facets are the same on every page, and a facet count is the total under that filter
    second = _search(small, small_embed, "partnership", "bm25", limit=2, facets=ALL_FACETS,
                     cursor=response.next_cursor)
    assert second.facets == response.facets and second.total == 5
    assert _search(small, small_embed, "partnership", "bm25", evidence_type="E3").total == 2
    top = _search(small, small_embed, "partnership", "bm25", limit=1, facets=["publisher"], facet_size=1)
    assert _facets(top) == {"publisher": [("Beta", 2)]}


def test_small_semantic_and_hybrid_result_sets_and_facets(small, small_embed):
    # every document is a semantic candidate here (8 < CANDIDATES)
    semantic = _search(small, small_embed, "agencies working together", "semantic", limit=3,
                       facets=["policy_area", "language", "evidence_type"])
    assert semantic.total == 8
    assert _facets(semantic) == {"policy_area": [("P2", 3), ("P7", 2), ("P1", 1), ("P4", 1), ("P5", 1)],
                                 "language": [("en", 7), ("fr", 1)],
                                 "evidence_type": [("E1", 3), ("E2", 2), ("E3", 2)]}
    hybrid = _search(small, small_embed, "partnership", "hybrid", limit=3, facets=["doc_type"])
    assert hybrid.total == 8  # the union of the BM25 matches and the semantic candidates
    assert _facets(hybrid) == {"doc_type": [("report", 5), ("briefing", 1), ("evaluation", 1), ("guidance", 1)]}
    filtered = _search(small, small_embed, "agencies working together", "semantic", limit=10, evidence_type="E1",
                       facets=["evidence_type"])
    assert {h.id for h in filtered.hits} == {"s1", "s3", "s5"} and filtered.total == 3
    assert _facets(filtered) == {"evidence_type": [("E1", 3), ("E2", 1)]}


CASED = [("c1", "Northmoor Observatory", "feed-a"), ("c2", "Northmoor Observatory", "feed-a"),
         ("c3", "NORTHMOOR OBSERVATORY", "Feed-A"), ("c4", "Westfield Trust", "feed-b"),
         ("c5", "Caf\u00e9 Trust", "feed-b")]


@pytest.fixture(scope="module", params=["embedded", "opensearch"])
def cased(request, embedder, tmp_path_factory):
    """Five partnership documents; the publishers and sources of c1-c3 differ in case only."""
    items = []
    for doc_id, publisher, source in CASED:
        text = f"Partnership working in {doc_id}: councils and charities agree shared outcomes."
        doc = IndexedDocument(id=doc_id, url=f"http://cased.test/{doc_id}", source=source, content_hash=f"h-{doc_id}",
                              title=f"Partnership report {doc_id}", text=text, publisher=publisher, language="en")
        items.append((doc, [Chunk(ordinal=0, text=text, page=1)], embedder.encode([text]),
                      embedder.encode([doc.title])[0]))
    yield from _fresh_index(request.param, "cased", embedder, tmp_path_factory, items)


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_caseless_facets_merge_spellings_and_count_what_their_filter_finds(cased, small_embed, mode):
    # a filter on publisher or source ignores case, so its facet must too (it listed 2 + 1 for a filter finding 3)
    response = _search(cased, small_embed, "partnership working", mode, facets=["publisher", "source"])
    assert _facets(response) == {"publisher": [("Northmoor Observatory", 3), ("Caf\u00e9 Trust", 1),
                                               ("Westfield Trust", 1)],
                                 "source": [("feed-a", 3), ("feed-b", 2)]}
    for spelling in ("Northmoor Observatory", "NORTHMOOR OBSERVATORY"):
        assert _search(cased, small_embed, "partnership working", mode, publisher=spelling).total == 3
    # a filter typed decomposed (e + U+0301) finds the composed spelling text is stored in (NFC)
    assert _search(cased, small_embed, "partnership working", mode, publisher="Cafe\u0301 Trust").total == 1
    # only zero-width characters: no filter
    assert _search(cased, small_embed, "partnership working", mode, publisher="\u200b").total == 5


def test_small_hybrid_honours_not_and_and(small, small_embed):
    """A vector cannot honour NOT or AND: hybrid ranks only the documents the text matches then
    (before, the semantic side brought back s2 and s7, which say "police", for NOT police)."""
    without = {h.id for h in _search(small, small_embed, "partnership NOT police", "bm25", limit=50).hits}
    assert without == {"s1", "s4", "s5"}
    hybrid = _search(small, small_embed, "partnership NOT police", "hybrid", limit=50)
    assert {h.id for h in hybrid.hits} == without and hybrid.total == 3
    both = _search(small, small_embed, "partnership AND budgets", "hybrid", limit=50)
    assert {h.id for h in both.hits} == {"s4", "s5"}
    plain = _search(small, small_embed, "partnership", "hybrid", limit=50)
    assert plain.total == 8  # without AND / NOT the semantic candidates still join


# id, title, chunks (one page each), publisher: AND / NOT must hold across a document's chunks
SPLIT = [
    ("m1", "Multi-agency working", ["Partnership working across agencies and schools.",
                                    "The police attended every board meeting."], "Alpha"),
    ("m2", "Board minutes", ["Partnership board minutes for the year.",
                             "Budgets were pooled across the councils."], "Beta"),
    ("m3", "Safety plan", ["A partnership with the police on community safety."], "Alpha"),
    ("m4", "Pooled budgets guide", ["How councils pool budgets: a naïve guide."], "Gamma"),
    ("m5", "Schools NOT prisons", ["Investment in schools reduces crime.", "Prisons cost more than schools."],
     "Gamma"),
    # sixty codes sharing a prefix, and one more that sorts after them: a prefix query must reach it
    ("m6", "Code list", [" ".join(f"zq{i:02d}" for i in range(60))], "Beta"),
    ("m7", "Late code", ["Code zq99 only."], "Beta"),
]
ALL_SPLIT = {row[0] for row in SPLIT}


@pytest.fixture(scope="module", params=["embedded", "opensearch"])
def split(request, embedder, tmp_path_factory):
    """The SPLIT documents, some spread over two chunks, in a fresh index of each backend."""
    items = []
    for doc_id, title, texts, publisher in SPLIT:
        doc = IndexedDocument(id=doc_id, url=f"http://split.test/{doc_id}", source="split", content_hash=doc_id,
                              title=title, text="\n\n".join(texts), publisher=publisher, language="en")
        chunks = [Chunk(ordinal=i, text=text, page=i + 1) for i, text in enumerate(texts)]
        items.append((doc, chunks, embedder.encode(texts), embedder.encode([title])[0]))
    yield from _fresh_index(request.param, "split", embedder, tmp_path_factory, items)


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_and_and_not_hold_per_document_not_per_chunk(split, small_embed, mode):
    """``a NOT b`` drops a report that says b on another page (m1: partnership on page 1, police on
    page 2; the old per-chunk match kept it); ``a AND b`` finds a report with a and b on different
    pages (m2; the old match found none). OR stays per chunk, NOT binds tighter than OR."""
    def found(text, **kwargs):
        response = _search(split, small_embed, text, mode, limit=50, **kwargs)
        assert response.total == len(response.hits)
        return {h.id for h in response.hits}

    plain = {"m1", "m2", "m3"} if mode == "bm25" else ALL_SPLIT  # hybrid: + the semantic candidates
    assert found("partnership") == plain
    assert found("partnership NOT police") == {"m2"}
    assert found("partnership AND budgets") == {"m2"}
    assert found("police AND budgets") == set()
    assert found("budgets OR police NOT partnership") == {"m2", "m4"}  # budgets OR (police NOT partnership)
    assert found("partnership NOT police", publisher="Alpha") == set()
    # a query with NOT equal to a whole title does not bring that title back (the exact-title rule
    # used to put m5 first whatever its text said)
    assert found("Schools NOT prisons") == {"m1"}  # not m5, whose title it is
    assert found("schools NOT crime") == {"m1"}
    assert found("schools") == ({"m1", "m5"} if mode == "bm25" else ALL_SPLIT)
    # the backends analyse text alike: stop words are words, accents fold, a prefix reaches every
    # term (OpenSearch's `english` analyzer and `match_phrase_prefix` differed on all three)
    assert found("schools NOT the") == {"m5"}  # m1 says "The police"
    assert found("naive AND budgets") == {"m4"}
    assert found("zq* NOT schools") == {"m6", "m7"}
    assert found("bud* NOT minutes") == {"m4"}  # m2's other page holds the minutes
    response = _search(split, small_embed, "partnership AND budgets", mode, facets=["publisher"])
    assert _facets(response) == {"publisher": [("Beta", 1)]}
    assert "<mark>" in response.hits[0].snippet  # the best chunk holding either word


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_title_field_limits_a_clause_to_the_title(split, small_embed, mode):
    """``title:`` matches the title only, in both backends, and is a condition in hybrid mode
    (``author:x`` and the like are refused before any backend sees them)."""
    def found(text):
        response = _search(split, small_embed, text, mode, limit=50)
        assert response.total == len(response.hits)
        return {h.id for h in response.hits}

    assert found("budgets") == ({"m2", "m4"} if mode == "bm25" else ALL_SPLIT)
    assert found("title:budgets") == {"m4"}  # m2 says budgets in its text only
    assert found("title:schools") == {"m5"}  # m1's text says schools
    assert found('title:"board minutes"') == {"m2"}
    assert found("title:bud*") == {"m4"}
    assert found("partnership NOT title:safety") == {"m1", "m2"}  # m3 is the "Safety plan"
    assert found("title:code AND zq99") == {"m7"}
    assert found("title:budgets OR title:safety") == {"m3", "m4"}
    # the same word with and without title: are two clauses (found by a break-it run: both backends
    # answered one for the other)
    assert found("budgets NOT title:budgets") == {"m2"}
    assert found("schools AND title:schools") == {"m5"}


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_small_evidence_type_and_source_filters(small, small_embed, mode):
    hits = _search(small, small_embed, "partnership", mode, limit=20, evidence_type="E2").hits
    expected = {"s2", "s5"}
    assert {h.id for h in hits} == expected
    assert all("E2" in [label.id for label in h.evidence_types] for h in hits)
    hits = _search(small, small_embed, "partnership", mode, limit=20, source="BETA-SITE").hits
    assert {h.id for h in hits} == ({"s2", "s5"} if mode == "bm25" else {"s2", "s5", "s8"})
    assert all(h.source == "beta-site" for h in hits)
    both = _search(small, small_embed, "partnership", mode, limit=20, source="gamma-list", evidence_type="E3").hits
    assert {h.id for h in both} == {"s4", "s7"}
    assert _search(small, small_embed, "partnership", mode, evidence_type="E7").hits == []


@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_small_date_sort(small, small_embed, mode):
    relevance = [h.id for h in _search(small, small_embed, "partnership", mode, limit=50).hits]
    response = _search(small, small_embed, "partnership", mode, limit=50, sort="date")
    ids = [h.id for h in response.hits]
    assert set(ids) == set(relevance) and response.total == len(ids)
    tied = sorted(["s1", "s5"], key=relevance.index)  # both published on 2023-03-01: relevance decides
    if mode == "bm25":
        assert ids == tied + ["s7", "s2", "s4"]  # s4 has no date: last
    else:
        assert ids == ["s3", *tied, "s7", "s2", "s8", "s6", "s4"]
    # scores stay relevance scores
    scores = {h.id: h.score for h in _search(small, small_embed, "partnership", mode, limit=50).hits}
    assert all(h.score == scores[h.id] for h in response.hits)
    # the date order covers the whole result set: the exact-title document (first by relevance) has
    # no date, so it comes last; paging by cursor gives the same order
    title = "Housing partnership boards"
    assert _search(small, small_embed, title, mode, limit=1).hits[0].id == "s4"
    dated = [h.id for h in _search(small, small_embed, title, mode, limit=50, sort="date").hits]
    assert dated[-1] == "s4" and _walk(small, small_embed, title, mode, 2, sort="date")[0] == dated
    by_relevance = [h.id for h in _search(small, small_embed, title, mode, limit=50).hits]
    start = dated.index(min("s1", "s5", key=by_relevance.index))
    assert dated[start:start + 2] == sorted(["s1", "s5"], key=by_relevance.index)
    if mode == "bm25":
        assert dated == [*sorted(["s1", "s5"], key=by_relevance.index), "s7", "s2", "s4"]


@pytest.mark.parametrize("sort", ["relevance", "date"])
@pytest.mark.parametrize("mode", ["bm25", "semantic", "hybrid"])
def test_small_cursor_walks_every_document_once(small, small_embed, mode, sort):
    whole = [h.id for h in _search(small, small_embed, "partnership", mode, limit=50, sort=sort).hits]
    for size in (1, 2, 3):
        walked, pages = _walk(small, small_embed, "partnership", mode, size, sort=sort)
        assert walked == whole and pages == -(-len(whole) // size)
    # offsets and cursors agree
    first = _search(small, small_embed, "partnership", mode, limit=3, sort=sort)
    by_cursor = _search(small, small_embed, "partnership", mode, limit=3, sort=sort, cursor=first.next_cursor)
    by_offset = _search(small, small_embed, "partnership", mode, limit=3, offset=3, sort=sort)
    assert [h.id for h in by_cursor.hits] == [h.id for h in by_offset.hits] == whole[3:6]
    assert by_offset.next_cursor == by_cursor.next_cursor
    last = _search(small, small_embed, "partnership", mode, limit=50, sort=sort)
    assert last.next_cursor is None


def test_small_cursor_of_another_query_is_refused(small, small_embed):
    cursor = _search(small, small_embed, "partnership", "bm25", limit=2).next_cursor
    assert cursor
    # the page size and the facets may change between pages
    assert _search(small, small_embed, "partnership", "bm25", limit=1, facets=["year"], cursor=cursor).hits
    for changed in ({"text": "housing"}, {"mode": "hybrid"}, {"sort": "date"}, {"publisher": "Beta"}):
        args = {"text": "partnership", "mode": "bm25", **changed}
        text, mode = args.pop("text"), args.pop("mode")
        with pytest.raises(ValueError, match="another query"):
            _search(small, small_embed, text, mode, limit=2, cursor=cursor, **args)
    for garbage in ("not-a-cursor", cursor[:-3], "e30"):
        with pytest.raises(ValueError, match="malformed"):
            _search(small, small_embed, "partnership", "bm25", cursor=garbage)
    with pytest.raises(ValidationError, match="not both"):
        SearchQuery(text="partnership", cursor=cursor, offset=2)
    with pytest.raises(ValidationError):
        SearchQuery(text="partnership", facets=["colour"])
    with pytest.raises(ValidationError, match="extra"):
        SearchFilters(colour="red")


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_small_unusable_query_vector_is_refused_alike(small, mode):
    """A zero or NaN vector has no cosine: both backends refuse it with the reason (OpenSearch's
    k-NN refused a zero vector while the embedded index returned arbitrary documents)."""
    query = SearchQuery(text="partnership", mode=mode)
    dimension = small.dimension
    with pytest.raises(ValueError, match="all zeros"):
        small.search(query, np.zeros(dimension, np.float32))
    bad = np.full(dimension, 0.1, np.float32)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        small.search(query, bad)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        small.search(query, np.ones(3, np.float32))


def test_small_similar(small):
    response = small.similar("s2", limit=7)
    ids = [h.id for h in response.hits]
    assert "s2" not in ids and sorted(ids) == ["s1", "s3", "s4", "s5", "s6", "s7", "s8"] and response.total == 7
    scores = [h.score for h in response.hits]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)
    assert all(h.snippet and h.page == 1 for h in response.hits)
    assert response.query.mode == "semantic" and response.query.text == "Violence reduction partnerships"
    assert [h.id for h in small.similar("s2", limit=2).hits] == ids[:2]
    filtered = small.similar("s2", limit=10, filters=SearchFilters(source="beta-site"))
    assert {h.id for h in filtered.hits} == {"s5", "s8"}
    with pytest.raises(KeyError, match="nope"):
        small.similar("nope")
    with pytest.raises(ValueError, match="limit"):
        small.similar("s2", limit=0)


def test_small_similar_matches_the_embedded_mean_vector(small, embedder):
    import numpy as np

    chunks, vectors = small.chunks_of("s7")
    mean = vectors.mean(axis=0)
    mean /= np.linalg.norm(mean)
    expected = []
    for doc_id, *_ in SMALL:
        if doc_id != "s7":
            _, theirs = small.chunks_of(doc_id)
            title = embedder.encode([next(row[1] for row in SMALL if row[0] == doc_id)])[0]
            expected.append((doc_id, float(max(np.max(theirs @ mean), title @ mean))))
    expected.sort(key=lambda item: -item[1])
    response = small.similar("s7", limit=7)
    assert [h.id for h in response.hits] == [d for d, _ in expected]
    assert [h.score for h in response.hits] == pytest.approx([s for _, s in expected], abs=2e-3)


def test_small_exact_title_and_hits_carry_labels(small, small_embed):
    hits = _search(small, small_embed, "Integrated care systems", "bm25").hits
    assert hits[0].id == "s8" and hits[0].source == "beta-site" and hits[0].evidence_types == []
    hit = next(h for h in _search(small, small_embed, "partnership", "bm25", limit=10).hits if h.id == "s5")
    assert [label.id for label in hit.evidence_types] == ["E1", "E2"] and "<mark>partnership</mark>" in hit.snippet
    assert isinstance(_search(small, small_embed, "partnership", "bm25", facets=["year"]).facets["year"][0],
                      FacetValue)


# words joined by apostrophes, dots and symbols: both backends cut them as FTS5's unicode61 does
JOINED = [
    ("j1", "Children's services review", "The council's children's services were inspected in 2019."),
    ("j2", "Schools in Côte d'Ivoire", "O’Brien's report on U.S.A. aid: £100 per pupil, rock'n'roll lessons."),
    ("j3", "Families", "Children and families were supported by the councils."),
]


def _one_chunk_items(name: str, rows: list[tuple[str, str, str]], embedder) -> list:
    """``upsert_many`` items of ``rows`` (id, title, text): English documents of one chunk each."""
    items = []
    for doc_id, title, text in rows:
        doc = IndexedDocument(id=doc_id, url=f"http://{name}.test/{doc_id}", source=name, content_hash=doc_id,
                              title=title, text=text, language="en")
        items.append((doc, [Chunk(ordinal=0, text=text, page=1)], embedder.encode([text]), embedder.encode([title])[0]))
    return items


@pytest.fixture(scope="module", params=["embedded", "opensearch"])
def joined(request, embedder, tmp_path_factory):
    """The JOINED documents in a fresh index of each backend."""
    yield from _fresh_index(request.param, "joined", embedder, tmp_path_factory,
                            _one_chunk_items("joined", JOINED, embedder))


def test_words_joined_by_apostrophes_and_dots_are_found_alike(joined, small_embed):
    """``children`` finds "children's" and ``Ivoire`` finds "d'Ivoire" in both backends (OpenSearch's
    `standard` tokenizer kept each as one token: the possessive was stemmed to ``children'`` and
    never matched; a break-it run on French documents found ``d'Ivoire``)."""
    def found(text):
        return {h.id for h in _search(joined, small_embed, text, "bm25", limit=50).hits}

    assert found("children") == {"j1", "j3"}
    assert found("council") == {"j1", "j3"}  # council's, councils
    assert found("Ivoire") == found("d'Ivoire") == found("Côte d'Ivoire") == {"j2"}
    assert found("brien") == found("O'Brien") == {"j2"}
    assert found('"children\'s services"') == {"j1"}
    assert found("usa") == set() and found("U.S.A.") == {"j2"}  # letters, as FTS5 cuts them
    assert found("100") == found("£100") == {"j2"}
    assert found("roll") == {"j2"}


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_prefix_longer_than_the_stem_finds_its_words(split, small_embed, mode):
    """``pooled*`` finds "pooled" although the index files it under the stem ``pool`` (both backends
    used to stem the prefix alone, ``pooled``, and match it against stems: nothing; a fresh-user
    check found ``evaluat*`` 1 document against ``evalu*`` 33 on the corpus)."""
    def found(text):
        response = _search(split, small_embed, text, mode, limit=50)
        assert response.total == len(response.hits)
        return {h.id for h in response.hits}

    def plain(expected):  # hybrid adds the semantic candidates to a query without AND / NOT / title:
        return expected if mode == "bm25" else ALL_SPLIT

    assert found("pooled*") == plain({"m2", "m4"})  # m2 says pooled, m4's title does
    assert found("agencie*") == plain({"m1"})  # agencies -> agenc
    assert found("attende*") == plain({"m1"})
    assert found("Investme*") == plain({"m5"})  # case and a word that stems to a shorter form
    assert found("pool*") == plain({"m2", "m4"})  # the stem itself, as before
    assert found("zq*") == plain({"m6", "m7"})  # sixty words behind one prefix: still every document
    assert found("title:pooled*") == {"m4"}
    assert found("pooled* NOT guide") == {"m2"}
    assert found("pooled* AND councils") == {"m2", "m4"}
    assert found("agencie* AND police") == {"m1"}
    assert found("pooledx* AND councils") == set()
    response = _search(split, small_embed, "agencie*", "bm25", limit=5)
    assert "<mark>" in response.hits[0].snippet


# words joined by a hyphen, then a prefix: the phrase's last word is the prefix in both backends
HYPHENED = [
    ("h1", "Covid-19 recovery plan", "The covid-19 pandemic closed schools for months."),
    ("h2", "Post-16 options", "Post-16 education and post-18 choices for young people."),
    ("h3", "Covid cases", "Covid cases rose; 19 councils and 1 region reported them."),  # not adjacent
]


@pytest.fixture(scope="module", params=["embedded", "opensearch"])
def hyphened(request, embedder, tmp_path_factory):
    """The HYPHENED documents in a fresh index of each backend."""
    yield from _fresh_index(request.param, "hyphened", embedder, tmp_path_factory,
                            _one_chunk_items("hyphened", HYPHENED, embedder))


def test_a_prefix_after_punctuation_is_a_phrase_prefix(hyphened, small_embed):
    """``covid-1*`` is "covid" followed by a word beginning with "1" (it used to be the phrase
    "covid 1", which no document holds, so it found nothing); the words must stay adjacent."""
    def found(text):
        return {h.id for h in _search(hyphened, small_embed, text, "bm25", limit=50).hits}

    assert found("covid-1*") == found("covid-19") == {"h1"}
    assert found("covid-19*") == {"h1"}
    assert found("covid_1*") == found("covid–1*") == {"h1"}  # underscore, en dash: separators too
    assert found('"covid 1"*') == found('title:"covid 1"*') == {"h1"}  # FTS5's own way to write it
    assert found('"covid 1*"') == set()  # a star inside quotes is not a prefix
    assert found("covid") == {"h1", "h3"}
    assert found("post-1*") == {"h2"} and found("post-18*") == {"h2"}
    assert found("post-2*") == set()
    assert found("title:covid-1*") == {"h1"} and found("title:post-18*") == set()
    assert found("covid-1* AND schools") == {"h1"}
    assert found("covid-1* NOT pandemic") == set()
    assert found("covid-1* OR post-1*") == {"h1", "h2"}
    response = _search(hyphened, small_embed, "covid-1*", "bm25", limit=5)
    assert "<mark>" in response.hits[0].snippet
