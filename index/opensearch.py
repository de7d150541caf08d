"""The OpenSearch index backend: the same contract as :class:`index.embedded.EmbeddedIndex`, on an
OpenSearch 2.x cluster (tested against a local 2.19.1 node, see ``scripts/opensearch/README.md``).

Layout: two aliases, ``{prefix}-documents`` and ``{prefix}-chunks``, each pointing at one versioned
physical index (``{prefix}-documents-v{N}``, ``{prefix}-chunks-v{N}``) with explicit, strict
mappings. :meth:`OpenSearchIndex.reindex` builds version N+1, copies with ``_reindex`` and swaps
both aliases in one atomic ``_aliases`` call, so searches through the aliases never see a missing
or empty index.

* documents: one entry per document (filter/facet fields, the ``IndexedDocument`` JSON in a
  non-indexed ``data`` object);
* chunks: one entry per chunk (``body`` text, :data:`TEXT_ANALYZER`; the document's title in ``title``
  on ordinal 0 only, so a title counts once per document), its embedding in a ``knn_vector``
  (HNSW, **lucene** engine, cosine; faiss/nmslib need native libraries the Maven build lacks), the
  document's filter fields copied so BM25 and kNN filter at chunk level; ordinal -1 holds the title
  vector (no text).

Search mirrors the embedded backend (result sets, facets, sort and cursors as defined in
:mod:`index.query`): BM25 over ``title^4`` and ``body`` collapsed to the best chunk per document
(score, then ``doc_id``), its ``total`` and facets from aggregations on the chunks index (distinct
documents per bucket); kNN with the filter inside the ``knn`` clause (lucene efficient filtering)
collapsed per document, for hybrid with the query vector moved towards the best BM25 chunks of the
best BM25 documents (``search.hybrid.feedback_docs``, :func:`index.query.feedback_vector`; their
vectors in one more request); hybrid = the two document rankings fused by ``index.query.fuse`` as the
``search.hybrid`` settings say (weighted reciprocal rank fusion or a convex combination of
normalised scores); semantic and hybrid facets from terms aggregations on the documents
index over the result set's ids; documents whose whole title equals the query go first in BM25
and hybrid modes. ``<mark>`` snippets are highlighted for the page's hits only, in a second small
request.

Bulk writes check every item (``_bulk`` answers HTTP 200 with ``errors: true`` when some items
fail, case 017): only items rejected with 429/503 are retried, with exponential back-off; mapping
errors are reported with their reasons and never retried.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError
from opensearchpy.helpers import expand_action, scan

from core.models import Chunk, IndexedDocument
from config.settings import HybridSettings
from index.backend import EmbeddingModelId, IndexMismatch, check_embedding_model, warn_adopted
from index.query import (
    CANDIDATES, CASELESS_FIELDS, QueryTerm, SearchFilters, SearchHit, SearchQuery, SearchResponse, check_query_vector,
    clause_groups, decode_cursor, exact_title_first, facet_values, feedback_vector, fuse, highlight, is_constrained,
    matching_documents, merge_by_score, paginate, parse_query, prefix_terms, query_terms, retrieval_depth,
    scoring_terms,
    similar_text, sort_by_date, title_key,
)

log = logging.getLogger(__name__)
TITLE_WEIGHT = 4.0
BODY_WEIGHT = 1.0
KNN_K = 2000              # chunks the kNN clause returns before collapsing to documents
SNIPPET_CHARS = 200       # highlight fragment size (characters)
PAGE_SIZE = 1000          # documents/chunks per page when listing with search_after
MAX_TERMS = 65_536        # values per terms query (OpenSearch's default index.max_terms_count)
CLAUSE_PAGE = 10_000      # documents per composite-aggregation page when listing a clause's documents
RETRY_STATUSES = frozenset({429, 503})

_EXACT_TITLE_LIMIT = 1000

# facet name (index.query.FacetName) -> keyword field, the same on the documents and chunks indices
FACET_FIELDS = {"theme": "themes", "policy_area": "policy_areas", "evidence_type": "evidence_types",
                "publisher": "publisher", "year": "year", "doc_type": "doc_type", "language": "language",
                "source": "source"}


def _field(hit: dict, name: str, default: Any = None) -> Any:
    """The first value of ``name`` in a hit's ``fields`` (doc values and the collapse field), so
    that hits need no ``_source`` (a chunk's source holds its vector: slow to parse)."""
    values = hit.get("fields", {}).get(name)
    return values[0] if values else default


def _key(bucket: dict) -> str:
    """A terms bucket's value as text (integer years come back as numbers)."""
    key = bucket["key"]
    return str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)

# -- mappings ---------------------------------------------------------------------------------

_KEYWORD = {"type": "keyword"}
_ENGLISH = {"type": "text", "analyzer": "english"}
# The chunks' text analysis mirrors the embedded index's FTS5 tokenizer ('porter unicode61
# remove_diacritics 2'): words lower-cased, accents folded, Porter-stemmed, no stop-word list; so a
# query finds the same documents in both backends (the `english` analyzer dropped stop words, making
# `inspection NOT the` exclude nothing, and kept accents, so `naive` missed `naïve`).
# Tokens are runs of letters, digits and marks, as unicode61 cuts them (every space, punctuation
# and symbol character separates; SQLite's fts5 documentation, "Unicode61 Tokenizer"): the
# `standard` tokenizer (UAX #29) kept apostrophes inside words, so `children's` became the stem
# `children'` that `children` never matched, and `d'Ivoire`, `O'Brien`, `U.S.A`, `3.14` stayed one
# token. The analyzers' names carry a version: an index analysed by an older one is reported.
TEXT_ANALYZER = "hub_text_v2"
WORDS_ANALYZER = "hub_words_v2"  # the same without stemming: the ``words`` sub-field that ``prefix*`` also searches
UNICODE61_TOKENIZER = "hub_unicode61"
_ANALYSIS = {"tokenizer": {UNICODE61_TOKENIZER: {"type": "pattern", "pattern": r"[^\p{L}\p{N}\p{M}\p{Co}]+"}},
             "analyzer": {TEXT_ANALYZER: {"type": "custom", "tokenizer": UNICODE61_TOKENIZER,
                                          "filter": ["lowercase", "asciifolding", "porter_stem"]},
                          WORDS_ANALYZER: {"type": "custom", "tokenizer": UNICODE61_TOKENIZER,
                                           "filter": ["lowercase", "asciifolding"]}}}


def _text_field() -> dict:
    """A chunk text field: analysed by :data:`TEXT_ANALYZER`, with the unstemmed ``words`` sub-field."""
    return {"type": "text", "analyzer": TEXT_ANALYZER,
            "fields": {"words": {"type": "text", "analyzer": WORDS_ANALYZER, "index_options": "docs"}}}


def documents_mapping() -> dict:
    """Settings and strict mappings of a physical documents index (a fresh copy each call)."""
    return copy.deepcopy({
        "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": _KEYWORD,
                "url": _KEYWORD,
                "source": _KEYWORD,
                "title": {**_ENGLISH, "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
                "title_key": _KEYWORD,
                "publisher": _KEYWORD,
                "published_date": {"type": "date", "format": "strict_date"},
                "year": {"type": "integer"},
                "language": _KEYWORD,
                "doc_type": _KEYWORD,
                "content_hash": _KEYWORD,
                "indexed_at": {"type": "date", "format": "strict_date_optional_time"},
                "themes": _KEYWORD,
                "policy_areas": _KEYWORD,
                "evidence_types": _KEYWORD,
                "data": {"type": "object", "enabled": False},
            },
        },
    })


def chunks_mapping(dimension: int) -> dict:
    """Settings and strict mappings of a physical chunks index with ``dimension``-sized vectors.

    The ``knn_vector`` sets ``engine: lucene`` explicitly: the default (faiss) and nmslib need
    native libraries; without them the node dies on the first refresh. A fresh copy each call
    (the field specs are shared module constants).
    """
    return copy.deepcopy({
        "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "knn": True},
                     "analysis": _ANALYSIS},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "doc_id": _KEYWORD,
                "ordinal": {"type": "integer"},
                "page": {"type": "integer"},
                "title": _text_field(),
                "body": _text_field(),
                "vector": {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
                },
                "source": _KEYWORD,
                "publisher": _KEYWORD,
                "published_date": {"type": "date", "format": "strict_date"},
                "year": {"type": "integer"},
                "language": _KEYWORD,
                "doc_type": _KEYWORD,
                "themes": _KEYWORD,
                "policy_areas": _KEYWORD,
                "evidence_types": _KEYWORD,
            },
        },
    })


# -- bulk loading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BulkItemError:
    """One failed item of a ``_bulk`` response: its position in the request, ``_id``, HTTP status,
    error type and reason."""

    position: int
    id: str | None
    status: int
    error_type: str
    reason: str

    @property
    def message(self) -> str:
        """``"type: reason"`` (or just the reason when there is no type)."""
        return f"{self.error_type}: {self.reason}" if self.error_type else self.reason


@dataclass
class BulkReport:
    """Outcome of :func:`bulk_load`.

    ``succeeded``: items written; ``failed``: ``(id, status, reason)`` of the items that stayed
    failed (mapping errors at once, 429/503 after the last retry); ``retried``: how many item
    re-sends were made (an item retried twice counts twice).
    """

    succeeded: int = 0
    failed: list[tuple[str | None, int, str]] = field(default_factory=list)
    retried: int = 0

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.failed


def _item_error(position: int, item: dict) -> BulkItemError | None:
    """The error of one response item, or None when it succeeded."""
    op, result = next(iter(item.items()))
    status = int(result.get("status", 500))
    if 200 <= status < 300 or (op == "delete" and status == 404):
        return None
    error = result.get("error")
    if isinstance(error, dict):
        error_type, reason = str(error.get("type", "")), str(error.get("reason", ""))
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason = f"{reason} (caused by {cause.get('type', '')}: {cause['reason']})"
    else:
        error_type, reason = "", str(error or f"status {status}")
    return BulkItemError(position, result.get("_id"), status, error_type, reason)


def classify_bulk_items(response: dict) -> tuple[list[BulkItemError], list[BulkItemError]]:
    """Split the failed items of one ``_bulk`` response into (to retry, failed for good).

    Pure function. HTTP 200 from ``_bulk`` does not mean success: every item's ``status`` is read
    (not only the top-level ``errors`` flag). Items rejected with 429 (queue full) or 503 are
    retryable; any other non-2xx item (e.g. 400 ``mapper_parsing_exception``) is a permanent
    failure. A 404 on a ``delete`` counts as success. ``position`` indexes the request's actions.
    """
    retry: list[BulkItemError] = []
    failed: list[BulkItemError] = []
    for position, item in enumerate(response.get("items", [])):
        error = _item_error(position, item)
        if error is None:
            continue
        (retry if error.status in RETRY_STATUSES else failed).append(error)
    return retry, failed


def _ndjson(pairs: list[tuple[Any, Any]]) -> str:
    lines = []
    for action, source in pairs:
        lines.append(json.dumps(action, separators=(",", ":")))
        if source is not None:
            lines.append(source if isinstance(source, str) else json.dumps(source, separators=(",", ":"),
                                                                             ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _action_id(action: Any) -> str | None:
    op = next(iter(action.values())) if isinstance(action, dict) and action else {}
    return op.get("_id") if isinstance(op, dict) else None


def bulk_load(client: Any, actions: Iterable[dict | str], *, max_retries: int = 3, chunk_size: int = 500,
              initial_backoff: float = 0.5, max_backoff: float = 30.0,
              sleep: Callable[[float], None] = time.sleep, **bulk_kwargs: Any) -> BulkReport:
    """Send ``actions`` with ``client.bulk`` in batches of ``chunk_size`` and check every item.

    ``actions`` are dicts in the ``opensearchpy.helpers`` format (``_op_type``, ``_index``, ``_id``,
    ``_source`` or the source fields inline). Items rejected with 429/503 are re-sent alone, up to
    ``max_retries`` times, waiting ``initial_backoff * 2**attempt`` seconds (capped at
    ``max_backoff``) before each retry; other failed items (mapping errors, 400) are reported at
    once and never retried. A whole request failing with a transport error counts as every item
    of the batch failing with that status (retried when it is 429/503). Extra keyword arguments
    go to ``client.bulk`` (e.g. ``refresh``). Never raises for item failures: read
    :attr:`BulkReport.failed`.
    """
    report = BulkReport()
    pairs = [expand_action(action) for action in actions]
    for start in range(0, len(pairs), chunk_size):
        pending = pairs[start:start + chunk_size]
        attempt = 0
        while pending:
            try:
                response = client.bulk(body=_ndjson(pending), **bulk_kwargs)
                retry, failed = classify_bulk_items(response)
                report.succeeded += len(pending) - len(retry) - len(failed)
            except TransportError as exc:
                status = exc.status_code if isinstance(exc.status_code, int) else 0
                reason = f"{exc.error}: {exc.info}" if exc.info else str(exc.error)
                errors = [BulkItemError(i, _action_id(a), status, "transport_error", reason)
                          for i, (a, _) in enumerate(pending)]
                retry, failed = (errors, []) if status in RETRY_STATUSES else ([], errors)
            for error in failed:
                report.failed.append((error.id or _action_id(pending[error.position][0]), error.status,
                                      error.message))
            if retry and attempt >= max_retries:
                for error in retry:
                    report.failed.append((error.id or _action_id(pending[error.position][0]), error.status,
                                          f"{error.message} (gave up after {max_retries} retries)"))
                retry = []
            pending = [pending[error.position] for error in retry]
            if pending:
                sleep(min(max_backoff, initial_backoff * 2 ** attempt))
                attempt += 1
                report.retried += len(pending)
    return report


# -- query building -----------------------------------------------------------------------------

PHRASE_PREFIX_EXPANSIONS = 1000
"""Most terms the last word of a phrase prefix (``covid-1*``) expands to in OpenSearch
(``match_phrase_prefix``'s ``max_expansions``, default 50: too few for a short prefix)."""


def _clause(term: QueryTerm, prefix_stems: dict[str, str] | None = None,
            prefix_words: dict[str, str] | None = None) -> dict:
    """One parsed clause over ``title^4`` and ``body`` (scores summed, like FTS5 bm25 columns).

    A ``prefix*`` is a ``prefix`` query on the word as the index analyses it (``prefix_stems``:
    word -> analysed token, from :meth:`OpenSearchIndex._prefix_stems`), as FTS5 stems a prefix
    before matching (``housing*`` -> ``hous*``): every term with that beginning matches, where
    ``match_phrase_prefix`` stops at its first 50 (``c*`` found 60 of the 75 documents FTS5 finds).
    A stemmed prefix misses words whose stem is shorter than it (``evaluat*`` vs ``evalu`` for
    ``evaluation``), so with ``prefix_words`` (word -> the word as the unstemmed ``words``
    sub-field files it) the prefix also runs on that sub-field, as the embedded index adds the
    words that begin with it (:func:`index.query.fts5_clause`). Prefix matches score a constant
    per field (``dis_max`` of the two). A phrase ending in a prefix (``covid-1*``) is a
    ``match_phrase_prefix`` whose last word reaches :data:`PHRASE_PREFIX_EXPANSIONS` terms (FTS5's
    phrase prefix has no such limit). A clause limited to ``title:`` searches the title only."""
    text = " ".join(term.words)
    fields = [("title", TITLE_WEIGHT)] + ([] if term.field == "title" else [("body", BODY_WEIGHT)])
    if term.prefix and len(term.words) > 1:
        should = [{"match_phrase_prefix": {name: {"query": text, "max_expansions": PHRASE_PREFIX_EXPANSIONS,
                                                  "boost": boost}}} for name, boost in fields]
    elif term.prefix:
        stem = (prefix_stems or {}).get(text, text.lower())
        folded = (prefix_words or {}).get(text)
        should = [{"prefix": {name: {"value": stem, "boost": boost}}} if folded is None else
                  {"dis_max": {"boost": boost, "queries": [{"prefix": {name: {"value": stem}}},
                                                           {"prefix": {f"{name}.words": {"value": folded}}}]}}
                  for name, boost in fields]
    else:
        kind = "match_phrase" if len(term.words) > 1 else "match"
        should = [{kind: {name: {"query": text, "boost": boost}}} for name, boost in fields]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def text_query(text: str, prefix_stems: dict[str, str] | None = None,
               prefix_words: dict[str, str] | None = None) -> dict | None:
    """The scoring query of the user query language (:func:`index.query.scoring_terms`): every
    clause but the ``NOT`` ones, ORed, so a document's best chunk may hold any of them. ``AND`` and
    ``NOT`` hold per document, not per chunk: :meth:`OpenSearchIndex._text_match` adds the ids of
    the documents that satisfy them as a filter. ``prefix_stems`` and ``prefix_words`` as in
    :func:`_clause`. None when no clause is left."""
    clauses = [_clause(term, prefix_stems, prefix_words) for term in scoring_terms(text)]
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def ids_filter(field: str, ids: list[str]) -> dict:
    """A filter on ``field`` being one of ``ids``, split into ``terms`` queries of at most
    :data:`MAX_TERMS` values (the default ``index.max_terms_count``); no ids match nothing."""
    if len(ids) <= MAX_TERMS:
        return {"terms": {field: ids}}
    return {"bool": {"minimum_should_match": 1, "should": [
        {"terms": {field: ids[i:i + MAX_TERMS]}} for i in range(0, len(ids), MAX_TERMS)]}}


def filter_clauses(filters: SearchFilters) -> list[dict]:
    """Bool filter clauses for ``filters`` on the fields that documents and chunks share.
    Publisher, source, doc type and language match case-insensitively (as the embedded
    backend); label ids (theme, policy area, evidence type) exactly; the year range is inclusive."""
    clauses: list[dict] = []
    if filters.theme:
        clauses.append({"term": {"themes": filters.theme}})
    if filters.policy_area:
        clauses.append({"term": {"policy_areas": filters.policy_area}})
    if filters.evidence_type:
        clauses.append({"term": {"evidence_types": filters.evidence_type}})
    for name in CASELESS_FIELDS:
        value = getattr(filters, name)
        if value:
            clauses.append({"term": {name: {"value": value, "case_insensitive": True}}})
    years = {}
    if filters.year_from is not None:
        years["gte"] = filters.year_from
    if filters.year_to is not None:
        years["lte"] = filters.year_to
    if years:
        clauses.append({"range": {"year": years}})
    return clauses


_MARK_RUN = re.compile(r"</mark>(\s+)<mark>")


def _unsupported(exc: TransportError) -> bool:
    """True when the cluster has no handler for the endpoint (e.g. ``_delete_by_query`` and
    ``_reindex`` without the ``reindex`` module: 400 "no handler found for uri", or 405
    "Incorrect HTTP method" as ``/_reindex`` then reads as an index name)."""
    text = f"{exc.error} {exc.info}"
    return exc.status_code in (400, 404, 405) and ("no handler found" in text or "Incorrect HTTP method" in text)


# -- the backend --------------------------------------------------------------------------------

class OpenSearchIndex:
    """Search index on an OpenSearch cluster; ``dimension`` is the embedding size.

    ``hosts`` are URLs (``https://`` turns TLS on); ``username``/``password`` give basic auth;
    ``verify_certs``/``ca_certs`` control certificate checks; ``timeout_s`` is the per-request
    timeout in seconds. The client retries connection errors, timeouts and HTTP 429/502/503/504
    up to ``max_retries`` times. ``hybrid`` (``config.settings.HybridSettings``; its defaults when
    None) is how hybrid search fuses BM25 and kNN. Creates the indices and aliases when missing
    (:meth:`ensure`); raises :class:`index.backend.IndexMismatch` when the existing chunks index
    holds vectors of another dimension, or (``embedding_model`` given) of another model: the model is
    recorded in the chunks mapping's ``_meta``. Safe to share between threads.
    """

    def __init__(self, *, hosts: list[str], dimension: int, index_prefix: str = "evidence-hub",
                 username: str | None = None, password: str | None = None, verify_certs: bool = True,
                 ca_certs: str | None = None, timeout_s: float = 30, max_retries: int = 3,
                 hybrid: HybridSettings | None = None, embedding_model: EmbeddingModelId | None = None):
        if not hosts:
            raise ValueError("hosts is empty")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", index_prefix):
            raise ValueError(f"index_prefix {index_prefix!r}: use lower-case letters, digits, '-', '_', '.'")
        self.dimension = dimension
        self.embedding_model = embedding_model
        self.prefix = index_prefix
        self.hybrid = hybrid or HybridSettings()
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        options: dict[str, Any] = {
            "hosts": list(hosts), "timeout": timeout_s, "max_retries": max_retries, "retry_on_timeout": True,
            "retry_on_status": (429, 502, 503, 504), "verify_certs": verify_certs,
        }
        if any(str(h).lower().startswith("https://") for h in hosts):
            options["use_ssl"] = True
        if ca_certs:
            options["ca_certs"] = ca_certs
        if username is not None:
            options["http_auth"] = (username, password or "")
        self._client = OpenSearch(**options)
        self._by_query_api: bool | None = None  # whether _delete_by_query/_reindex exist (None: not tried)
        self._words_field = True  # whether title and body have the unstemmed ``words`` sub-field (checked by ensure)
        try:
            self.ensure()
        except BaseException:
            self._client.close()
            raise

    # -- names and housekeeping ---------------------------------------------------------------
    @property
    def client(self) -> OpenSearch:
        """The underlying opensearch-py client."""
        return self._client

    @property
    def documents_alias(self) -> str:
        """Alias of the current documents index."""
        return f"{self.prefix}-documents"

    @property
    def chunks_alias(self) -> str:
        """Alias of the current chunks index."""
        return f"{self.prefix}-chunks"

    def _physical(self, kind: str, version: int) -> str:
        return f"{self.prefix}-{kind}-v{version}"

    def _mapping(self, kind: str) -> dict:
        if kind == "documents":
            return documents_mapping()
        mapping = chunks_mapping(self.dimension)
        if self.embedding_model is not None:
            mapping["mappings"]["_meta"] = {"embedding_model": self.embedding_model.as_dict()}
        return mapping

    def _versions(self) -> dict[str, dict[str, bool]]:
        """Physical indices per kind: {kind: {name: behind_alias}}."""
        found: dict[str, dict[str, bool]] = {"documents": {}, "chunks": {}}
        pattern = f"{self.prefix}-documents-v*,{self.prefix}-chunks-v*"
        for name, info in self._client.indices.get(index=pattern, allow_no_indices=True).items():
            match = re.fullmatch(re.escape(self.prefix) + r"-(documents|chunks)-v(\d+)", name)
            if match:
                found[match.group(1)][name] = f"{self.prefix}-{match.group(1)}" in (info.get("aliases") or {})
        return found

    @staticmethod
    def _version_of(name: str) -> int:
        return int(name.rsplit("-v", 1)[1])

    def _current(self) -> dict[str, str]:
        """The physical index behind each alias."""
        current = {}
        for kind, alias in (("documents", self.documents_alias), ("chunks", self.chunks_alias)):
            names = sorted(self._client.indices.get_alias(name=alias))
            if len(names) != 1:
                raise IndexMismatch(f"alias {alias} points at {names}; expected exactly one index")
            current[kind] = names[0]
        return current

    def ensure(self) -> None:
        """Create version 1 of both indices with their aliases when missing (an alias missing
        over existing versions is pointed at the newest). Raises IndexMismatch when the chunks
        index holds vectors of another dimension, or when an alias name is taken by a plain index."""
        for kind, alias in (("documents", self.documents_alias), ("chunks", self.chunks_alias)):
            if self._client.indices.exists_alias(name=alias):
                continue
            if self._client.indices.exists(index=alias):
                raise IndexMismatch(f"{alias} is a plain index, not an alias; move its data to "
                                    f"{self._physical(kind, 1)} or use another index_prefix")
            existing = sorted(self._versions()[kind], key=self._version_of)
            if existing:
                self._client.indices.update_aliases(body={"actions": [
                    {"add": {"index": existing[-1], "alias": alias}}]})
                continue
            body = {**self._mapping(kind), "aliases": {alias: {}}}
            try:
                self._client.indices.create(index=self._physical(kind, 1), body=body)
            except RequestError as exc:
                if exc.error != "resource_already_exists_exception":  # created by a concurrent process
                    raise
        self._check_chunks_mapping()
        self._add_missing_fields()

    def _add_missing_fields(self) -> None:
        """Add the fields the current mappings define but an existing physical index lacks (e.g.
        ``evidence_types`` and the chunks' ``source``, added after version 1 of the mappings):
        adding a field is allowed on a live strict mapping; changing one is not (that needs
        :meth:`reindex`). Entries written before keep no value for them until re-upserted."""
        for kind, alias in (("documents", self.documents_alias), ("chunks", self.chunks_alias)):
            wanted = self._mapping(kind)["mappings"]["properties"]
            for name, info in self._client.indices.get_mapping(index=alias).items():
                have = info.get("mappings", {}).get("properties", {})
                missing = {field: spec for field, spec in wanted.items() if field not in have}
                if missing:
                    self._client.indices.put_mapping(index=name, body={"properties": missing})

    def _check_chunks_mapping(self) -> None:
        """Raise IndexMismatch when the chunks index has no ``knn_vector`` of this model's dimension
        or records another embedding model (one that records none adopts this one);
        log a warning when it analyses text with another analyzer than :data:`TEXT_ANALYZER` (an
        index built before it: ``english``, or ``hub_text`` with the ``standard`` tokenizer):
        searches work, but stop words, accents and words joined by apostrophes match differently
        from the embedded index until ``evidence-hub reindex`` rebuilds it. One mapping request."""
        for name, info in self._client.indices.get_mapping(index=self.chunks_alias).items():
            properties = info.get("mappings", {}).get("properties", {})
            vector = properties.get("vector", {})
            if vector.get("type") != "knn_vector":
                raise IndexMismatch(f"{name} has no knn_vector field 'vector'; use another index_prefix")
            stored = int(vector.get("dimension", -1))
            if stored != self.dimension:
                raise IndexMismatch(f"{name} holds {stored}-dimensional embeddings but the model gives "
                                    f"{self.dimension}; re-index with the original model or use a new index_prefix")
            meta = info.get("mappings", {}).get("_meta") or {}
            if check_embedding_model(EmbeddingModelId.from_dict(meta.get("embedding_model")), self.embedding_model,
                                     name):
                warn_adopted(name, self.embedding_model, meta.get("embedding_model"),
                             bool(self._client.count(index=name)["count"]))
                self._client.indices.put_mapping(index=name, body={"_meta": {
                    **meta, "embedding_model": self.embedding_model.as_dict()}})
            analyzer = properties.get("body", {}).get("analyzer")
            if analyzer != TEXT_ANALYZER:
                log.warning("%s analyses text with %r, not %r: stop words, accents and words joined by "
                            "apostrophes or dots match differently from the embedded index; run "
                            "`evidence-hub reindex` to rebuild it", name, analyzer, TEXT_ANALYZER)
            self._words_field = all("words" in properties.get(field, {}).get("fields", {})
                                    for field in ("title", "body"))
            if not self._words_field:
                log.warning("%s has no unstemmed 'words' sub-field (built before it): a prefix* longer than "
                            "its words' stem (evaluat* for evaluation) finds nothing; run "
                            "`evidence-hub reindex` to rebuild it", name)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def _refresh(self) -> None:
        self._client.indices.refresh(index=f"{self.documents_alias},{self.chunks_alias}")

    # -- writes -------------------------------------------------------------------------------
    def _document_source(self, doc: IndexedDocument) -> dict:
        return {
            "id": doc.id, "url": doc.url, "source": doc.source, "title": doc.title,
            "title_key": title_key(doc.title or ""), "publisher": doc.publisher,
            "published_date": doc.published_date.isoformat() if doc.published_date else None,
            "year": doc.published_date.year if doc.published_date else None,
            "language": doc.language, "doc_type": doc.doc_type, "content_hash": doc.content_hash,
            "indexed_at": doc.indexed_at.isoformat(),
            "themes": [label.id for label in doc.themes],
            "policy_areas": [label.id for label in doc.policy_areas],
            "evidence_types": [label.id for label in doc.evidence_types],
            "data": doc.model_dump(mode="json"),
        }

    @staticmethod
    def _shared_fields(doc: IndexedDocument) -> dict:
        return {
            "source": doc.source, "publisher": doc.publisher,
            "published_date": doc.published_date.isoformat() if doc.published_date else None,
            "year": doc.published_date.year if doc.published_date else None,
            "language": doc.language, "doc_type": doc.doc_type,
            "themes": [label.id for label in doc.themes],
            "policy_areas": [label.id for label in doc.policy_areas],
            "evidence_types": [label.id for label in doc.evidence_types],
        }

    def upsert(self, doc: IndexedDocument, chunks: list[Chunk], vectors: np.ndarray,
               title_vector: np.ndarray | None = None) -> None:
        """Insert or replace ``doc`` with its chunks and their vectors (float32, shape
        (len(chunks), dimension)); ``title_vector`` (shape (dimension,)) is stored as chunk -1.

        The new chunks are written under ids ``{doc_id}:{i}`` (overwriting the old ones in place),
        then the document record (so a record never exists without its chunks, see
        :meth:`_load_chunks_then_documents`), then chunks the new version no longer has are deleted, then both indices are refreshed: the
        write is visible to searches when this returns, and a concurrent search never sees the
        document without chunks. Raises ValueError on bad shapes (nothing written) and
        RuntimeError naming the item ids and reasons when items failed after retries (the
        document is then removed whole, so ``content_hash_of`` gives None and the next run
        indexes it again).
        """
        actions, chunk_ids = self._actions(doc, chunks, vectors, title_vector)
        report = self._load_chunks_then_documents(actions)
        if report.failed:
            try:
                self.delete(doc.id)
            finally:
                details = "; ".join(f"{item_id} ({status}): {reason}" for item_id, status, reason in report.failed)
                raise RuntimeError(f"indexing document {doc.id} failed for {len(report.failed)} of {len(actions)} "
                                   f"items, document removed: {details}")
        self._delete_where(self.chunks_alias, {"bool": {
            "filter": [{"term": {"doc_id": doc.id}}], "must_not": [{"ids": {"values": chunk_ids}}]}})
        self._refresh()

    def upsert_many(self, items: list[tuple[IndexedDocument, list[Chunk], np.ndarray, np.ndarray | None]]) -> None:
        """Insert or replace every ``(doc, chunks, vectors, title_vector)`` of ``items``: the same
        result as :meth:`upsert` per item in order (a repeated doc id: the last one wins), at bulk
        cost.

        Every item's shapes are checked first (ValueError naming the document; nothing written).
        Then one ``mget`` finds which documents already exist, ONE :func:`bulk_load` sends all
        documents and chunks of the batch, chunks that the new versions no longer have are deleted
        for the documents that existed before (new ones have none), and both indices are refreshed
        once. Writes are visible to searches on return. When items fail after retries, the
        documents they belong to are removed whole (as :meth:`upsert` does), the others stay
        written, and RuntimeError names the documents, item ids and reasons.
        """
        latest: dict[str, tuple[IndexedDocument, list[Chunk], np.ndarray, np.ndarray | None]] = {}
        for item in items:  # last one wins; dict order = first appearance
            latest[item[0].id] = item
        actions: list[dict] = []
        chunk_ids_of: dict[str, list[str]] = {}
        owners: dict[str | None, set[str]] = {}
        for doc_id, (doc, chunks, vectors, title_vector) in latest.items():
            try:
                doc_actions, chunk_ids = self._actions(doc, chunks, vectors, title_vector)
            except ValueError as exc:
                raise ValueError(f"document {doc_id}: {exc}") from None
            actions.extend(doc_actions)
            chunk_ids_of[doc_id] = chunk_ids
            for action in doc_actions:
                owners.setdefault(action["_id"], set()).add(doc_id)
        if not latest:
            return
        existing = set()
        ids = list(latest)
        for start in range(0, len(ids), PAGE_SIZE):
            found = self._client.mget(index=self.documents_alias, body={"ids": ids[start:start + PAGE_SIZE]},
                                      _source=False)
            existing.update(d["_id"] for d in found["docs"] if d.get("found"))
        report = self._load_chunks_then_documents(actions, owners)
        failed_docs = sorted({doc_id for item_id, _, _ in report.failed for doc_id in owners.get(item_id, ())})
        stale = [doc_id for doc_id in latest if doc_id in existing and doc_id not in failed_docs]
        for start in range(0, len(stale), PAGE_SIZE):  # bounded: ids/terms queries have term limits
            group = stale[start:start + PAGE_SIZE]
            self._delete_where(self.chunks_alias, {"bool": {
                "filter": [{"terms": {"doc_id": group}}],
                "must_not": [{"ids": {"values": [c for doc_id in group for c in chunk_ids_of[doc_id]]}}]}})
        if report.failed:
            try:
                for doc_id in failed_docs:
                    self.delete(doc_id)
            finally:
                self._refresh()
                details = "; ".join(f"{item_id} ({status}): {reason}" for item_id, status, reason in report.failed)
                raise RuntimeError(f"indexing failed for {len(report.failed)} of {len(actions)} items; documents "
                                   f"removed: {', '.join(failed_docs)}: {details}")
        self._refresh()

    def _load_chunks_then_documents(self, actions: list[dict],
                                    owners: dict[str | None, set[str]] | None = None) -> BulkReport:
        """Bulk-load the chunk actions first and then the document records of the documents whose
        chunks were all written: a document record (which carries the content hash that change
        detection trusts) never exists without its chunks, even when the node dies mid-load (the
        next run then sees no record, or the old hash, and indexes the document again).
        ``owners`` maps item id -> document ids (default: a chunk id's prefix before ':')."""
        documents = [a for a in actions if a["_index"] == self.documents_alias]
        chunk_actions = [a for a in actions if a["_index"] != self.documents_alias]
        report = bulk_load(self._client, chunk_actions, max_retries=self.max_retries) if chunk_actions else BulkReport()
        owner_of = (lambda item_id: owners.get(item_id, ())) if owners is not None \
            else (lambda item_id: {str(item_id).split(":", 1)[0]})  # noqa: E731
        broken = {doc_id for item_id, _, _ in report.failed for doc_id in owner_of(item_id)}
        records = bulk_load(self._client, [a for a in documents if a["_id"] not in broken],
                            max_retries=self.max_retries)
        report.succeeded += records.succeeded
        report.retried += records.retried
        report.failed.extend(records.failed)
        report.failed.extend((a["_id"], 0, "not written: chunks of this document failed")
                             for a in documents if a["_id"] in broken)
        return report

    def _actions(self, doc: IndexedDocument, chunks: list[Chunk], vectors: np.ndarray,
                 title_vector: np.ndarray | None) -> tuple[list[dict], list[str]]:
        """The bulk actions writing ``doc`` and its chunks (``opensearchpy.helpers`` format), and
        the chunk ids they use. Raises ValueError on bad shapes."""
        vectors = np.asarray(vectors)
        if vectors.shape != (len(chunks), self.dimension):
            raise ValueError(f"vectors shape {vectors.shape} != ({len(chunks)}, {self.dimension})")
        if title_vector is not None and np.asarray(title_vector).shape != (self.dimension,):
            raise ValueError(f"title_vector shape {np.asarray(title_vector).shape} != ({self.dimension},)")
        shared = self._shared_fields(doc)
        actions: list[dict] = [{"_index": self.documents_alias, "_id": doc.id, "_source": self._document_source(doc)}]
        chunk_ids = []
        if title_vector is not None and doc.title:
            chunk_ids.append(f"{doc.id}:t")
            actions.append({"_index": self.chunks_alias, "_id": chunk_ids[-1], "_source": {
                "doc_id": doc.id, "ordinal": -1, "page": None, "body": "",
                "vector": np.asarray(title_vector, np.float32).tolist(), **shared}})
        for i, (chunk, vector) in enumerate(zip(chunks, vectors)):
            chunk_ids.append(f"{doc.id}:{i}")
            source = {"doc_id": doc.id, "ordinal": chunk.ordinal, "page": chunk.page, "body": chunk.text,
                      "vector": np.asarray(vector, np.float32).tolist(), **shared}
            if chunk.ordinal == 0:
                source["title"] = doc.title or ""
            actions.append({"_index": self.chunks_alias, "_id": chunk_ids[-1], "_source": source})
        return actions, chunk_ids

    def delete(self, doc_id: str) -> bool:
        """Delete a document and its chunks; True when the document existed."""
        try:
            self._client.delete(index=self.documents_alias, id=doc_id, refresh=True)
            existed = True
        except NotFoundError:
            existed = False
        self._delete_where(self.chunks_alias, {"term": {"doc_id": doc_id}})
        return existed

    def _delete_where(self, index: str, query: dict) -> None:
        """Delete the entries matching ``query`` and refresh: ``_delete_by_query`` where the cluster
        has it (the ``reindex`` module; the Maven-assembled test node and OpenSearch Serverless lack
        it), else search + bulk delete in pages. Refreshes first: both only see refreshed entries."""
        self._client.indices.refresh(index=index)
        if self._by_query_api is not False:
            try:
                self._client.delete_by_query(index=index, body={"query": query}, conflicts="proceed", refresh=True)
                self._by_query_api = True
                return
            except TransportError as exc:
                if not _unsupported(exc):
                    raise
                self._by_query_api = False
        while True:
            hits = self._client.search(index=index, body={"query": query, "size": PAGE_SIZE, "_source": False,
                                                          "track_total_hits": False})["hits"]["hits"]
            if not hits:
                return
            report = bulk_load(self._client, [{"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]}
                                              for h in hits], max_retries=self.max_retries)
            if report.failed:
                raise RuntimeError(f"deleting from {index} failed: {report.failed[:10]}")
            self._client.indices.refresh(index=index)

    # -- reads --------------------------------------------------------------------------------
    def get(self, doc_id: str) -> IndexedDocument | None:
        """The stored document or None."""
        try:
            found = self._client.get(index=self.documents_alias, id=doc_id, _source_includes="data")
        except NotFoundError:
            return None
        return IndexedDocument.model_validate(found["_source"]["data"])

    def _get_many(self, doc_ids: list[str]) -> dict[str, IndexedDocument]:
        if not doc_ids:
            return {}
        found = self._client.mget(index=self.documents_alias, body={"ids": doc_ids}, _source_includes="data")
        return {d["_id"]: IndexedDocument.model_validate(d["_source"]["data"])
                for d in found["docs"] if d.get("found")}

    def content_hash_of(self, doc_id: str) -> str | None:
        """The content hash stored for ``doc_id`` (None when absent)."""
        try:
            found = self._client.get(index=self.documents_alias, id=doc_id, _source_includes="content_hash")
        except NotFoundError:
            return None
        return found["_source"].get("content_hash")

    def count(self) -> int:
        """Number of documents."""
        return int(self._client.count(index=self.documents_alias)["count"])

    def chunk_count(self) -> int:
        """Number of text chunks (title vectors not counted)."""
        body = {"query": {"range": {"ordinal": {"gte": 0}}}}
        return int(self._client.count(index=self.chunks_alias, body=body)["count"])

    def _scan(self, index: str, query: dict, sort: list, source: Any) -> Iterable[dict]:
        """All hits of ``query`` in ``sort`` order (unique sort keys), paged with search_after."""
        after = None
        while True:
            body = {"query": query, "sort": sort, "size": PAGE_SIZE, "_source": source, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            hits = self._client.search(index=index, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    def ids(self) -> list[str]:
        """All document ids, sorted."""
        return [h["_source"]["id"] for h in self._scan(self.documents_alias, {"match_all": {}},
                                                       [{"id": "asc"}], ["id"])]

    def chunks_of(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks (ordinal >= 0, by ordinal) and their vectors, float32
        (n, dimension)."""
        query = {"bool": {"filter": [{"term": {"doc_id": doc_id}}, {"range": {"ordinal": {"gte": 0}}}]}}
        source = ["ordinal", "page", "body", "vector"]
        body = {"query": query, "sort": [{"ordinal": "asc"}], "size": PAGE_SIZE, "_source": source}
        hits = self._client.search(index=self.chunks_alias, body=body)["hits"]["hits"]
        if len(hits) >= PAGE_SIZE:  # a long document: scroll through all of its chunks
            hits = sorted(scan(self._client, index=self.chunks_alias, query={"query": query, "_source": source}),
                          key=lambda h: h["_source"]["ordinal"])
        chunks = [Chunk(ordinal=h["_source"]["ordinal"], page=h["_source"].get("page"), text=h["_source"]["body"])
                  for h in hits]
        vectors = np.array([h["_source"]["vector"] for h in hits], dtype=np.float32).reshape(len(hits),
                                                                                                self.dimension)
        return chunks, vectors

    def stats(self) -> dict:
        """Counts and the physical indices behind the aliases: ``{"documents": int, "chunks": int,
        "version": "v2", "indices": {"documents": name, "chunks": name}}``."""
        current = self._current()
        return {"documents": self.count(), "chunks": self.chunk_count(),
                "version": f"v{self._version_of(current['documents'])}", "indices": current}

    # -- search -------------------------------------------------------------------------------
    def _search(self, index: str, body: dict) -> dict:
        try:
            return self._client.search(index=index, body=body)
        except RequestError as exc:
            raise ValueError(f"the search was refused: {exc.error}: {exc.info}") from None

    def _text_match(self, query: SearchQuery) -> dict | None:
        """The chunk query that a query's text matches: :func:`text_query` (the scoring clauses)
        and, for a query with ``AND`` / ``NOT`` (:func:`index.query.is_constrained`), a filter on
        the ids of the documents satisfying them as whole documents
        (:func:`index.query.matching_documents`, each clause's documents listed by
        :meth:`_documents_with`). None when no clause is left. Raises ValueError for a query the
        cluster refuses."""
        stems = self._prefix_stems(query.text)
        words = self._prefix_stems(query.text, "body.words") if self._words_field else None
        scoring = text_query(query.text, stems, words)
        if scoring is None or not is_constrained(query.text):
            return scoring
        matched = matching_documents(clause_groups(query.text),
                                     lambda term: self._documents_with(term, query.filters, stems, words))
        return {"bool": {"must": [scoring], "filter": [ids_filter("doc_id", sorted(matched))]}}

    def _prefix_stems(self, text: str, field: str = "body") -> dict[str, str]:
        """``word -> token`` for each ``prefix*`` word of the query, analysed by the chunks'
        ``field`` (``body``: stemmed; ``body.words``: not; the ``_analyze`` API, so an index built
        with another analyzer stems its own way); a word the analyzer drops keeps its lower-cased
        form."""
        stems = {}
        for word in prefix_terms(text):
            tokens = self._client.indices.analyze(index=self.chunks_alias,
                                                  body={"field": field, "text": word}).get("tokens", [])
            stems[word] = tokens[0]["token"] if tokens else word.lower()
        return stems

    def _documents_with(self, term: QueryTerm, filters: SearchFilters, prefix_stems: dict[str, str],
                        prefix_words: dict[str, str] | None = None) -> set[str]:
        """Ids of the documents (within ``filters``) with a chunk matching one clause: a
        ``composite`` aggregation on ``doc_id``, paged :data:`CLAUSE_PAGE` buckets at a time."""
        body: dict[str, Any] = {"size": 0, "track_total_hits": False, "query": {"bool": {
            "must": [_clause(term, prefix_stems, prefix_words)], "filter": filter_clauses(filters)}}}
        found: set[str] = set()
        after = None
        while True:
            composite: dict[str, Any] = {"size": CLAUSE_PAGE, "sources": [{"doc_id": {"terms": {"field": "doc_id"}}}]}
            if after is not None:
                composite["after"] = after
            body["aggs"] = {"_docs": {"composite": composite}}
            agg = self._search(self.chunks_alias, body)["aggregations"]["_docs"]
            found.update(bucket["key"]["doc_id"] for bucket in agg["buckets"])
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return found

    def _bm25(self, query: SearchQuery, matched: dict | None, depth: int, *, within: list[str] | None = None,
              count: bool = False,
              exact: set[str] = frozenset(), facets: list[str] = (), by_date: bool = False
              ) -> tuple[list[tuple[str, float]], int, dict, dict[str, date | None]]:
        """The BM25 document ranking: ``[(doc_id, score)]`` of the best chunk per document (collapse
        on ``doc_id``), score descending then id, at most ``depth`` long; only documents of
        ``within`` when given. ``by_date``: ordered by ``published_date`` (newest first, none
        last), then score, then id, without the ``exact`` documents (the caller places them), and
        each document's date. With ``count`` also the number of documents in the BM25 result set
        (documents matching the text, plus ``exact`` ones; a ``cardinality`` aggregation, exact
        up to 40,000 documents) and the facet aggregations of ``facets`` over that set (terms on
        the chunks' copies of the document fields, each bucket counting distinct documents).
        ``matched`` is :meth:`_text_match` of the query (computed once per search). No highlighting
        here: only the page's hits get snippets (:meth:`_snippets`)."""
        if matched is None:
            return [], 0, {}, {}
        clauses = filter_clauses(query.filters)
        if within is not None:
            clauses = [*clauses, {"terms": {"doc_id": within}}]
        body: dict[str, Any] = {
            "size": depth, "track_total_hits": False, "_source": False,  # doc_id comes back in "fields"
            "query": {"bool": {"must": [matched], "filter": clauses}},
            "collapse": {"field": "doc_id"}, "sort": [{"_score": "desc"}, {"doc_id": "asc"}],
        }
        if by_date:  # a document's chunks share its date: the collapse keeps its best chunk
            body["sort"] = [{"published_date": {"order": "desc", "missing": "_last"}}, *body["sort"]]
            body["track_scores"] = True
            body["docvalue_fields"] = [{"field": "published_date", "format": "strict_date"}]
            if exact:
                body["post_filter"] = {"bool": {"must_not": [{"terms": {"doc_id": sorted(exact)}}]}}
        if count:
            if exact:  # the aggregations see the exact-title documents too; the hits only text matches
                body["query"] = {"bool": {"filter": clauses, "minimum_should_match": 1, "should": [
                    matched, {"constant_score": {"filter": {"terms": {"doc_id": sorted(exact)}}, "boost": 0.0}}]}}
                body["post_filter"] = {"bool": {"filter": [matched], **body.get("post_filter", {}).get("bool", {})}}
            body["aggs"] = {"_documents": {"cardinality": {"field": "doc_id", "precision_threshold": 40000}}}
            for name in facets:
                body["aggs"][f"facet_{name}"] = {
                    "terms": {"field": FACET_FIELDS[name], "size": query.facet_size,
                              "order": [{"documents": "desc"}, {"_key": "asc"}]},
                    "aggs": {"documents": {"cardinality": {"field": "doc_id", "precision_threshold": 40000}}}}
        found = self._search(self.chunks_alias, body)
        ranking = [(_field(h, "doc_id"), float(h["_score"])) for h in found["hits"]["hits"]]
        dates = {}
        if by_date:
            for hit in found["hits"]["hits"]:
                value = _field(hit, "published_date")
                dates[_field(hit, "doc_id")] = date.fromisoformat(value) if value else None
        aggs = found.get("aggregations", {})
        total = int(aggs["_documents"]["value"]) if count else len(ranking)
        counts = {name: {_key(b): int(b["documents"]["value"]) for b in aggs[f"facet_{name}"]["buckets"]}
                  for name in facets} if count else {}
        return ranking, total, counts, dates

    def _snippets(self, query: SearchQuery, matched: dict | None, doc_ids: list[str]
                  ) -> dict[str, tuple[int | None, str]]:
        """``doc_id -> (page, <mark> snippet)`` of each document's best BM25 chunk, for the hits of
        one page only (``matched``, the same query and sort as the ranking, so the same chunk)."""
        if matched is None or not doc_ids:
            return {}
        body = {
            "size": len(doc_ids), "track_total_hits": False, "_source": False, "docvalue_fields": ["page"],
            "query": {"bool": {"must": [matched], "filter": [{"terms": {"doc_id": doc_ids}}]}},
            "collapse": {"field": "doc_id"}, "sort": [{"_score": "desc"}, {"doc_id": "asc"}],
            "highlight": {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "fields": {"body": {
                "type": "unified", "fragment_size": SNIPPET_CHARS, "number_of_fragments": 1,
                "no_match_size": SNIPPET_CHARS}}},
        }
        if self._words_field and prefix_terms(query.text):  # a prefix that matched only unstemmed words
            body["highlight"]["fields"]["body.words"] = {"type": "unified", "fragment_size": SNIPPET_CHARS,
                                                         "number_of_fragments": 1}
        has_phrase = any(len(t.words) > 1 for t in parse_query(query.text))
        out = {}
        for hit in self._search(self.chunks_alias, body)["hits"]["hits"]:
            marked = hit.get("highlight", {})
            fragments = marked.get("body", [])
            if sum(f.count("<mark>") for f in marked.get("body.words", [])) > sum(f.count("<mark>") for f in fragments):
                fragments = marked["body.words"]  # a prefix's words are marked only there
            snippet = " … ".join(fragments)
            if has_phrase:  # the highlighter marks a phrase word by word: mark it as one run
                snippet = _MARK_RUN.sub(r"\1", snippet)
            out[_field(hit, "doc_id")] = (_field(hit, "page"), snippet)
        return out

    def _feedback_passages(self, matched: dict | None, doc_ids: list[str]) -> np.ndarray:
        """The vectors of the best BM25 chunk of each of ``doc_ids`` (the same query and collapse as
        :meth:`_bm25`), shape (n, dimension), for pseudo-relevance feedback
        (:func:`index.query.feedback_vector`); one request."""
        if matched is None or not doc_ids:
            return np.zeros((0, self.dimension), np.float32)
        body = {"size": len(doc_ids), "track_total_hits": False, "_source": ["vector"],
                "query": {"bool": {"must": [matched], "filter": [{"terms": {"doc_id": doc_ids}}]}},
                "collapse": {"field": "doc_id"}, "sort": [{"_score": "desc"}, {"doc_id": "asc"}]}
        hits = self._search(self.chunks_alias, body)["hits"]["hits"]
        return np.array([h["_source"]["vector"] for h in hits], dtype=np.float32).reshape(len(hits), self.dimension)

    def _semantic(self, vector: np.ndarray, filters: SearchFilters, exclude: str | None = None,
                  within: list[str] | None = None) -> list[tuple[str, float, str, int]]:
        """The semantic candidates: ``[(doc_id, cosine, best chunk _id, its ordinal)]``, at most
        :data:`CANDIDATES` documents (within the filters and, when given, the ids ``within``,
        without ``exclude``) by their nearest chunk among the :data:`KNN_K` nearest chunks (HNSW,
        lucene efficient filtering), best first, ties by id."""
        if within is not None and not within:
            return []
        knn: dict[str, Any] = {"vector": np.asarray(vector, np.float32).tolist(), "k": KNN_K}
        clauses = filter_clauses(filters)
        if within is not None:
            clauses = [*clauses, {"terms": {"doc_id": within}}]
        if clauses or exclude is not None:
            knn["filter"] = {"bool": {"filter": clauses,
                                      "must_not": [{"term": {"doc_id": exclude}}] if exclude is not None else []}}
        body = {"size": CANDIDATES, "track_total_hits": False, "_source": False, "docvalue_fields": ["ordinal"],
                "query": {"knn": {"vector": knn}}, "collapse": {"field": "doc_id"},
                "sort": [{"_score": "desc"}, {"doc_id": "asc"}]}
        # lucene cosinesimil scores are (1 + cos) / 2; report the cosine like the embedded backend
        return [(_field(h, "doc_id"), 2.0 * float(h["_score"]) - 1.0, h["_id"], _field(h, "ordinal", 0))
                for h in self._search(self.chunks_alias, body)["hits"]["hits"]]

    def _check_vector(self, mode: str, vector: np.ndarray | None) -> None:
        check_query_vector(mode, vector, self.dimension)

    def search(self, query: SearchQuery, query_vector: np.ndarray | None = None) -> SearchResponse:
        """Run a search (see :mod:`index.query` for the result set of each mode). ``query_vector``
        (unit length, shape (dimension,)) is needed for semantic and hybrid modes. Hybrid fuses the
        BM25 and kNN document rankings (the :data:`index.query.CANDIDATES` best of each) by
        ``index.query.fuse`` with this index's ``hybrid`` settings. BM25 ``total`` and facets come
        from aggregations on the chunks index (distinct documents per bucket: ``cardinality``,
        exact up to 40,000); semantic and hybrid facets from
        a terms aggregation on the documents index over the result set's ids. Snippets are built
        for the page's hits only. Raises ValueError for a missing or mis-shaped vector, a query
        the cluster refuses, or a cursor of another query."""
        position, last_id = decode_cursor(query)
        if query.mode != "bm25":
            self._check_vector(query.mode, query_vector)
        exact = self._exact_title_ids(query) if query.mode != "semantic" else set()
        matched = self._text_match(query) if query.mode != "semantic" else None
        semantic: list[tuple[str, float, str, int]] = []
        bm25_ids: set[str] = set()
        facet_counts: dict[str, dict[str, int]] = {}
        if query.mode == "bm25" and query.sort == "date":
            ranking, total, facet_counts, dates = self._bm25(query, matched, retrieval_depth(query, position),
                                                             count=True, exact=exact, facets=query.facets,
                                                             by_date=True)
            ranked, bm25_ids = ranking, {d for d, _ in ranking}
            if exact:  # the exact-title documents: before the others of their date, in relevance order
                scored = merge_by_score(self._bm25(query, matched, len(exact), within=sorted(exact))[0])
                top = max([s for _, s in ranking + scored], default=0.0)
                leading = scored + [(d, top) for d in sorted(exact - {d for d, _ in scored})]
                dates.update(self._dates(sorted(exact)))
                entries = [(d, s, 0, i) for i, (d, s) in enumerate(leading)] + \
                          [(d, s, 1, i) for i, (d, s) in enumerate(ranking)]
                entries.sort(key=lambda e: (dates.get(e[0]) is None,
                                            -(dates[e[0]].toordinal() if dates.get(e[0]) else 0), e[2], e[3]))
                ranked = [(d, s) for d, s, *_ in entries]
                bm25_ids |= {d for d, _ in scored}
        elif query.mode == "bm25":
            depth = max(retrieval_depth(query, position), len(exact))
            ranking, total, facet_counts, _ = self._bm25(query, matched, depth, count=True, exact=exact,
                                                         facets=query.facets)
            missing = sorted(exact - {d for d, _ in ranking})
            if missing and len(ranking) >= depth:  # exact-title documents beyond the depth: their scores
                ranking = merge_by_score(ranking, self._bm25(query, matched, len(missing), within=missing)[0])
            bm25_ids = {d for d, _ in ranking}
            ranked = exact_title_first(ranking, exact)
        else:
            ranking: list[tuple[str, float]] = []
            if query.mode == "hybrid":
                ranking = self._bm25(query, matched, CANDIDATES)[0]
                bm25_ids = {d for d, _ in ranking}
            within = [d for d, _ in ranking] if query.mode == "hybrid" and is_constrained(query.text) else None
            vector = query_vector
            if query.mode == "hybrid" and self.hybrid.feedback_docs and ranking:  # BM25 feeds back into the vector
                passages = self._feedback_passages(matched, [d for d, _ in ranking[:self.hybrid.feedback_docs]])
                vector = feedback_vector(query_vector, passages, self.hybrid.feedback_weight)
            semantic = self._semantic(vector, query.filters, within=within)
            ranked = fuse(query.mode, ranking, [(d, s) for d, s, *_ in semantic], self.hybrid)
            if query.mode == "hybrid":
                ranked = exact_title_first(ranked, exact)
            total = len(ranked)
            if query.facets:
                facet_counts = self._document_facets(query, [d for d, _ in ranked])
        if query.sort == "date" and query.mode != "bm25":
            ranked = sort_by_date(ranked, self._dates([d for d, _ in ranked]))
        window, next_cursor = paginate(query, ranked, position, last_id)
        facets = {name: facet_values(facet_counts.get(name, {}), query.facet_size, fold_case=name in CASELESS_FIELDS)
                  for name in query.facets}
        docs = self._get_many([d for d, _ in window])
        snippets = self._snippets(query, matched, [d for d, _ in window if d in bm25_ids])
        chunk_of = {d: (chunk_id, ordinal) for d, _, chunk_id, ordinal in semantic}
        chunks = self._chunks_by_id([chunk_of[d] for d, _ in window if d in chunk_of and d not in snippets])
        terms = query_terms(query.text)
        hits = [self._hit(docs[d], score, snippets.get(d), chunks.get(chunk_of.get(d, ("", 0))[0]), terms)
                for d, score in window if d in docs]
        return SearchResponse(query=query, total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def similar(self, doc_id: str, limit: int = 10, filters: SearchFilters | None = None) -> SearchResponse:
        """More like this: the documents nearest to ``doc_id``'s mean chunk vector (its title
        vector when it has no chunks), without ``doc_id`` itself, best first: at most ``limit``
        (1..1000) hits of the semantic candidates within ``filters`` (as in :meth:`search`). Hit
        scores are cosines of each document's best chunk to that vector; snippets show that chunk.
        ``total`` counts the candidates. The response's ``query`` records the document's title
        as text, mode ``semantic``, the filters and the limit.

        Raises KeyError when ``doc_id`` is not in the index, ValueError when it has no vector
        or ``limit`` is out of range."""
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit {limit} is out of range 1..1000")
        doc = self.get(doc_id)
        if doc is None:
            raise KeyError(f"no document {doc_id!r} in the index")
        filters = filters or SearchFilters()
        semantic = self._semantic(self._document_vector(doc_id), filters, exclude=doc_id)
        window = semantic[:limit]
        docs = self._get_many([d for d, *_ in window])
        chunks = self._chunks_by_id([(chunk_id, ordinal) for _, _, chunk_id, ordinal in window])
        hits = [self._hit(docs[d], score, None, chunks.get(chunk_id), []) for d, score, chunk_id, _ in window
                if d in docs]
        query = SearchQuery(text=similar_text(doc.title, doc_id), mode="semantic", filters=filters, limit=limit)
        return SearchResponse(query=query, total=len(semantic), hits=hits)

    def _document_vector(self, doc_id: str) -> np.ndarray:
        """The unit mean of a document's chunk vectors, or its title vector (chunk -1) when it has
        no chunks. Raises ValueError when it has neither."""
        _, vectors = self.chunks_of(doc_id)
        if len(vectors):
            mean = vectors.mean(axis=0)
        else:
            body = {"size": 1, "_source": ["vector"], "query": {"bool": {"filter": [
                {"term": {"doc_id": doc_id}}, {"term": {"ordinal": -1}}]}}}
            hits = self._client.search(index=self.chunks_alias, body=body)["hits"]["hits"]
            mean = np.asarray(hits[0]["_source"]["vector"], np.float32) if hits else np.zeros(self.dimension)
        norm = float(np.linalg.norm(mean))
        if not norm > 0:
            raise ValueError(f"document {doc_id!r} has no vectors to compare")
        return (mean / norm).astype(np.float32)

    def _document_facets(self, query: SearchQuery, doc_ids: list[str]) -> dict[str, dict[str, int]]:
        """``facet -> value -> documents`` of ``query.facets`` over the documents ``doc_ids``
        (terms aggregations on the documents index)."""
        if not doc_ids:
            return {}
        body = {"size": 0, "track_total_hits": False, "query": {"ids": {"values": doc_ids}}, "aggs": {
            name: {"terms": {"field": FACET_FIELDS[name], "size": query.facet_size,
                             "order": [{"_count": "desc"}, {"_key": "asc"}]}} for name in query.facets}}
        aggs = self._search(self.documents_alias, body)["aggregations"]
        return {name: {_key(b): int(b["doc_count"]) for b in aggs[name]["buckets"]} for name in query.facets}

    def _dates(self, doc_ids: list[str]) -> dict[str, date | None]:
        """The published date of each of ``doc_ids`` (None when it has none), read from doc values
        (the documents' ``_source`` holds their whole text: never parsed here)."""
        out: dict[str, date | None] = {d: None for d in doc_ids}
        for start in range(0, len(doc_ids), PAGE_SIZE):
            group = doc_ids[start:start + PAGE_SIZE]
            body = {"size": len(group), "track_total_hits": False, "_source": False,
                    "query": {"ids": {"values": group}},
                    "docvalue_fields": [{"field": "published_date", "format": "strict_date"}]}
            for hit in self._search(self.documents_alias, body)["hits"]["hits"]:
                value = _field(hit, "published_date")
                out[hit["_id"]] = date.fromisoformat(value) if value else None
        return out

    def _chunks_by_id(self, wanted: list[tuple[str, int]]) -> dict[str, dict]:
        """``chunk _id -> {ordinal, page, body}`` for ``(chunk _id, ordinal)`` pairs; a title
        vector (ordinal -1) maps to its document's opening chunk."""
        ids = [chunk_id for chunk_id, ordinal in wanted if ordinal >= 0]
        out: dict[str, dict] = {}
        if ids:
            found = self._client.mget(index=self.chunks_alias, body={"ids": ids},
                                      _source_includes="ordinal,page,body")
            out = {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}
        for chunk_id, ordinal in wanted:
            if ordinal < 0:
                opening = self._opening_chunk(chunk_id.rsplit(":", 1)[0])
                if opening is not None:
                    out[chunk_id] = opening
        return out

    def _exact_title_ids(self, query: SearchQuery) -> set[str]:
        """Ids of documents (within the filters) whose whole title equals the query (``title_key``);
        none for a query with AND / NOT, whose operators decide what it finds."""
        key = title_key(query.text)
        if not key or is_constrained(query.text):
            return set()
        body = {"size": _EXACT_TITLE_LIMIT, "_source": ["id"], "track_total_hits": False,
                "query": {"bool": {"filter": [{"term": {"title_key": key}}, *filter_clauses(query.filters)]}}}
        return {h["_source"]["id"] for h in self._search(self.documents_alias, body)["hits"]["hits"]}

    def _opening_chunk(self, doc_id: str) -> dict | None:
        """The first text chunk (lowest ordinal >= 0) of ``doc_id``: ``{ordinal, page, body}``."""
        body = {"size": 1, "_source": ["ordinal", "page", "body"], "sort": [{"ordinal": "asc"}],
                "query": {"bool": {"filter": [{"term": {"doc_id": doc_id}}, {"range": {"ordinal": {"gte": 0}}}]}}}
        hits = self._client.search(index=self.chunks_alias, body=body)["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def _hit(self, doc: IndexedDocument, score: float, bm25_hit: tuple[int | None, str] | None,
             chunk: dict | None, terms: list[str]) -> SearchHit:
        """The hit of ``doc``: the BM25 ``(page, snippet)`` when there is one, else a window of the
        semantic best ``chunk`` (or of the opening chunk) with ``terms`` marked."""
        page, snippet = bm25_hit if bm25_hit else (None, "")
        if not snippet:
            chunk = chunk or self._opening_chunk(doc.id)
            if chunk:
                page, snippet = chunk.get("page"), highlight(chunk.get("body", ""), terms)
        return SearchHit.from_document(doc, score, page, snippet)

    # -- versions -----------------------------------------------------------------------------
    def reindex(self, *, timeout_s: float = 3600) -> str:
        """Rebuild both indices as the next version and switch the aliases to it.

        Creates ``{prefix}-documents-v{N+1}`` and ``{prefix}-chunks-v{N+1}`` with the current
        mappings, copies the data with ``_reindex`` (``wait_for_completion``, up to ``timeout_s``
        seconds), refreshes, then moves both aliases in ONE ``_aliases`` call (atomic: searches
        see the old version until the switch, the new one after, never an empty index). The old
        version is kept (see :meth:`drop_old_versions`). Writes made during the copy go to the old
        version and are not carried over: pause ingestion while reindexing. Returns the new
        version name, e.g. ``"v2"``. Raises RuntimeError when the copy reports failures (the
        aliases are then left unchanged and the new indices deleted).
        """
        current = self._current()
        versions = self._versions()
        number = 1 + max(self._version_of(n) for kind in versions for n in versions[kind])
        new = {kind: self._physical(kind, number) for kind in ("documents", "chunks")}
        created: list[str] = []
        try:
            for kind in ("documents", "chunks"):
                self._client.indices.create(index=new[kind], body=self._mapping(kind))
                created.append(new[kind])
                self._copy(current[kind], new[kind], timeout_s)
            self._client.indices.refresh(index=",".join(new.values()))
            self._client.indices.update_aliases(body={"actions": [
                action
                for kind, alias in (("documents", self.documents_alias), ("chunks", self.chunks_alias))
                for action in ({"remove": {"index": current[kind], "alias": alias}},
                               {"add": {"index": new[kind], "alias": alias}})
            ]})
            self._check_chunks_mapping()
        except Exception:
            for name in created:  # unused new indices (checked: a timed-out alias switch may have happened)
                try:
                    if not self._client.indices.get_alias(index=name).get(name, {}).get("aliases"):
                        self._client.indices.delete(index=name, ignore_unavailable=True)
                except TransportError:
                    pass
            raise
        return f"v{number}"

    def _copy(self, source: str, dest: str, timeout_s: float) -> None:
        """Copy every entry of ``source`` into ``dest``: the ``_reindex`` API, or where the cluster
        lacks it (no ``reindex`` module) a scroll over ``source`` bulk-loaded into ``dest``."""
        if self._by_query_api is not False:
            try:
                result = self._client.reindex(
                    body={"source": {"index": source}, "dest": {"index": dest}, "conflicts": "abort"},
                    wait_for_completion=True, refresh=True, request_timeout=timeout_s)
                self._by_query_api = True
                if result.get("failures") or result.get("timed_out"):
                    raise RuntimeError(f"reindex {source} -> {dest} failed: "
                                       f"{json.dumps(result.get('failures'))[:2000]}")
                return
            except TransportError as exc:
                if not _unsupported(exc):
                    raise
                self._by_query_api = False
        actions = ({"_index": dest, "_id": hit["_id"], "_source": hit["_source"]}
                   for hit in scan(self._client, index=source, query={"query": {"match_all": {}}}, size=500,
                                   scroll="5m", request_timeout=self.timeout_s))
        report = bulk_load(self._client, actions, max_retries=self.max_retries)
        if report.failed:
            raise RuntimeError(f"copying {source} -> {dest}: {len(report.failed)} items failed: {report.failed[:10]}")
        self._client.indices.refresh(index=dest)

    def drop_all(self) -> list[str]:
        """Delete every physical index of this prefix (all versions, so the aliases go too), by
        name (clusters may refuse wildcard deletes); returns their names. For tests and teardown."""
        dropped = sorted(name for names in self._versions().values() for name in names)
        for name in dropped:
            self._client.indices.delete(index=name, ignore_unavailable=True)
        return dropped

    def drop_old_versions(self) -> list[str]:
        """Delete the physical indices of this prefix that no alias points at; returns their names."""
        dropped = sorted(name for names in self._versions().values() for name, aliased in names.items()
                         if not aliased)
        for name in dropped:
            self._client.indices.delete(index=name)
        return dropped
