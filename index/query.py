"""The query model shared by every index backend, and the result shapes.

Result sets (what ``total`` counts, what pages walk, what facets count and what ``sort="date"``
orders) are defined the same way for every backend:

* ``bm25``: every document matching the query text (within the filters), plus the documents
  whose whole title equals the query (:func:`exact_title_first`). Words, phrases and ``OR`` match
  when one chunk (or the title) holds them; ``AND`` and ``NOT`` hold per document
  (:func:`matching_documents`): ``a AND b`` finds a report with ``a`` on one page and ``b`` on
  another, ``a NOT b`` drops any report that says ``b`` anywhere;
* ``semantic``: the candidate set: the :data:`CANDIDATES` documents whose best chunk is nearest to
  the query vector (within the filters). Every document "matches" a vector, so the candidates are
  the result set;
* ``hybrid``: the union of the BM25 candidates (the :data:`CANDIDATES` best BM25 documents), the
  semantic candidates and the exact-title documents, ranked by :func:`fuse` (reciprocal rank
  fusion by default; the ``search.hybrid`` settings). The semantic candidates are those of the
  query vector after pseudo-relevance feedback from BM25 (:func:`feedback_vector` with the best
  BM25 chunk of each of the ``search.hybrid.feedback_docs`` best BM25 documents). A query with an
  ``AND``, ``NOT`` or ``title:`` clause (:func:`is_constrained`) takes its semantic candidates
  within the BM25 candidates only, so that a document excluded by ``NOT`` or lacking an ``AND``
  term is not brought back by its vector.

``sort="date"`` orders the whole result set: newest ``published_date`` first, documents without a
date last, documents of the same date in relevance order. Pages (``offset``/``limit`` or
``cursor``) reach at most the first :data:`RESULT_WINDOW` documents of an order (``total`` and
the facets still count the whole result set).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import unicodedata
from datetime import date
from typing import TYPE_CHECKING, Callable, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from config.settings import HybridSettings

SearchMode = Literal["bm25", "semantic", "hybrid"]
SortOrder = Literal["relevance", "date"]
FacetName = Literal["theme", "policy_area", "evidence_type", "publisher", "year", "doc_type", "language", "source"]
FACETS: tuple[str, ...] = get_args(FacetName)
RRF_K = 60  # Cormack, Clarke & Buettcher (2009), "Reciprocal rank fusion outperforms Condorcet..."
CANDIDATES = 300          # documents per retrieval list (semantic candidates; BM25 list fused in hybrid)
RESULT_WINDOW = 10_000    # deepest document position a page can reach (OpenSearch's max_result_window)


class SearchFilters(BaseModel):
    """Filters; every given field must match (AND). Label filters (``theme``, ``policy_area``,
    ``evidence_type``) take label ids (``T3``, ``P1``, ``E2``) and match exactly; ``publisher``,
    ``source`` (the source name), ``doc_type`` and ``language`` match case-insensitively; the year
    range is inclusive and leaves out documents without a date. A blank value is no filter (a
    form's empty field); an unknown field, or ``year_from`` after ``year_to``, is an error
    (pydantic.ValidationError)."""

    model_config = ConfigDict(extra="forbid")

    theme: str | None = None
    policy_area: str | None = None
    evidence_type: str | None = None
    publisher: str | None = None
    source: str | None = None
    doc_type: str | None = None
    language: str | None = None
    year_from: int | None = Field(None, ge=1000, le=3000)
    year_to: int | None = Field(None, ge=1000, le=3000)

    @field_validator("theme", "policy_area", "evidence_type", "publisher", "source", "doc_type", "language")
    @classmethod
    def _blank_is_none_else_nfc(cls, value: str | None) -> str | None:
        if value is None or not "".join(ch for ch in value if unicodedata.category(ch) != "Cf").strip():
            return None  # blank, or only zero-width characters
        return unicodedata.normalize("NFC", value.strip())  # "Cafe\u0301" is "Café" (stored text is NFC)

    @model_validator(mode="after")
    def _years_in_order(self) -> "SearchFilters":
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise ValueError(f"year_from {self.year_from} is after year_to {self.year_to}: no document can match; "
                             "swap them")
        return self


MAX_QUERY_CHARS = 1000
"""Longest query text accepted (characters): longer ones are refused with a validation error."""


class SearchQuery(BaseModel):
    """A search: query text, retrieval mode, filters, facets, sort order and paging.

    Paging: ``limit`` results from ``offset``, or from ``cursor`` (the ``next_cursor`` of the
    previous page of the same query; ``offset`` must then be 0). ``facets`` names the facets to
    count over the whole result set (see the module docstring), each giving its ``facet_size``
    most frequent values. ``sort="date"``: newest ``published_date`` first, documents without a
    date last, ties by relevance. An unknown field is an error (a misspelt option never passes
    silently).
    """

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    mode: SearchMode = "hybrid"
    filters: SearchFilters = SearchFilters()
    facets: list[FacetName] = Field(default_factory=list)
    facet_size: int = Field(50, ge=1, le=1000)
    sort: SortOrder = "relevance"
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000)
    cursor: str | None = Field(None, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query text is blank")
        if not parse_query(value):  # only operators or punctuation: nothing to match or embed
            raise ValueError(f"query text {value.strip()[:80]!r} has no words to search for: AND, OR and NOT "
                             "join words or quoted phrases")
        return value.strip()

    @field_validator("facets")
    @classmethod
    def _unique_facets(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _cursor_or_offset(self) -> "SearchQuery":
        if self.cursor is not None and self.offset:
            raise ValueError("give either a cursor or an offset, not both (a cursor carries its own position)")
        return self


class LabelRef(BaseModel):
    """A label on a hit: id, human label, score and evidence."""

    id: str
    label: str
    score: float
    uncertain: bool = False
    terms: list[str] = Field(default_factory=list)
    passages: list[str] = Field(default_factory=list)


class SearchHit(BaseModel):
    """One document in a result list: its best chunk's snippet and page, and its labels.
    ``score`` is the relevance score of the mode (BM25, cosine or the fused hybrid score), also
    under ``sort="date"``."""

    id: str
    url: str
    title: str | None
    score: float
    publisher: str | None = None
    source: str | None = None
    published_date: date | None = None
    doc_type: str | None = None
    language: str | None = None
    page: int | None = None
    snippet: str = ""
    themes: list[LabelRef] = Field(default_factory=list)
    policy_areas: list[LabelRef] = Field(default_factory=list)
    evidence_types: list[LabelRef] = Field(default_factory=list)

    @classmethod
    def from_document(cls, doc, score: float, page: int | None, snippet: str) -> "SearchHit":
        """The hit of an ``IndexedDocument`` (core.models) with its ``score``, best ``page`` and
        ``snippet``; every backend builds hits this way."""
        refs = lambda labels: [LabelRef(**label.model_dump()) for label in labels]  # noqa: E731
        return cls(
            id=doc.id, url=doc.url, title=doc.title, score=round(score, 6), publisher=doc.publisher,
            source=doc.source, published_date=doc.published_date, doc_type=doc.doc_type, language=doc.language,
            page=page, snippet=snippet, themes=refs(doc.themes), policy_areas=refs(doc.policy_areas),
            evidence_types=refs(doc.evidence_types),
        )


class FacetValue(BaseModel):
    """One value of a facet and the number of documents of the result set that have it."""

    value: str
    count: int


class SearchResponse(BaseModel):
    """Hits for one page of results, how many documents the result set holds in all, the facet
    counts asked for (facet name -> values, count descending then value ascending) and the cursor
    of the next page (None on the last page)."""

    query: SearchQuery
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    next_cursor: str | None = None


# -- cursors ------------------------------------------------------------------------------------

_CURSOR_VERSION = 1


def query_fingerprint(query: SearchQuery) -> str:
    """A short hash of what defines a ranking: text, mode, filters and sort (not the page size,
    the facets or the position). Two queries with the same fingerprint walk the same list."""
    key = {"text": query.text, "mode": query.mode, "sort": query.sort,
           "filters": query.filters.model_dump(exclude_none=True)}
    return hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def encode_cursor(query: SearchQuery, position: int, last_id: str) -> str:
    """The opaque cursor of the page that starts at ``position`` (0-based) of ``query``'s ranking,
    just after the document ``last_id``: URL-safe base64 of a small JSON object."""
    raw = json.dumps({"v": _CURSOR_VERSION, "q": query_fingerprint(query), "p": position, "id": last_id},
                     separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> tuple[int, str | None]:
    """``(position, last_id)`` where ``query``'s page starts: ``(offset, None)`` without a cursor.

    Raises ValueError when the cursor is not one this module made, or was made by another query
    (another text, mode, filters or sort)."""
    if query.cursor is None:
        return query.offset, None
    try:
        padded = query.cursor + "=" * (-len(query.cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
        version, fingerprint, position, last_id = data["v"], data["q"], data["p"], data["id"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, RecursionError):  # nested JSON: RecursionError
        raise ValueError("the cursor is malformed: pass the next_cursor of a previous response unchanged") from None
    if version != _CURSOR_VERSION or not isinstance(position, int) or position < 0 or not isinstance(last_id, str):
        raise ValueError("the cursor is malformed: pass the next_cursor of a previous response unchanged")
    if fingerprint != query_fingerprint(query):
        raise ValueError("the cursor belongs to another query: a cursor only pages the query (text, mode, filters, "
                         "sort) that returned it; start the new query without a cursor")
    return position, last_id


def page_start(position: int, last_id: str | None, ranked_ids: list[str]) -> int:
    """Where a page starts in ``ranked_ids``: at ``position`` when the document before it is still
    ``last_id`` (always so for an unchanged index), else just after ``last_id`` where it moved
    (the index changed between pages), else at ``position``."""
    if last_id is None or (0 < position <= len(ranked_ids) and ranked_ids[position - 1] == last_id):
        return position
    try:
        return ranked_ids.index(last_id) + 1
    except ValueError:
        return position


def paginate(query: SearchQuery, ranked: list[tuple[str, float]], position: int, last_id: str | None
             ) -> tuple[list[tuple[str, float]], str | None]:
    """The page of ``ranked`` (best first, at most :data:`RESULT_WINDOW` long) that ``query`` asks
    for, and the cursor of the next page (None when nothing follows). ``ranked`` must reach at
    least one document past the page when more documents exist (so the next cursor is right)."""
    ranked = ranked[:RESULT_WINDOW]
    start = page_start(position, last_id, [d for d, _ in ranked])
    window = ranked[start:start + query.limit]
    end = start + len(window)
    cursor = encode_cursor(query, end, window[-1][0]) if window and end < len(ranked) else None
    return window, cursor


def retrieval_depth(query: SearchQuery, position: int) -> int:
    """How many documents of a deep (BM25) order a page starting at ``position`` needs: one past
    the page, for the next cursor. Never above :data:`RESULT_WINDOW`."""
    return min(RESULT_WINDOW, position + query.limit + 1)


def sort_by_date(ranked: list[tuple[str, float]], dates: dict[str, date | None]) -> list[tuple[str, float]]:
    """``ranked`` (best first) reordered newest ``published_date`` first, documents without a
    date (or absent from ``dates``) last, ties by relevance (the position in ``ranked``), then id."""
    position = {doc_id: i for i, (doc_id, _) in enumerate(ranked)}

    def key(item: tuple[str, float]) -> tuple:
        """(no date, newest first, relevance position, id) of one ``(doc_id, score)``."""
        day = dates.get(item[0])
        return (day is None, -(day.toordinal() if day else 0), position[item[0]], item[0])

    return sorted(ranked, key=key)


CASELESS_FIELDS = ("publisher", "source", "doc_type", "language")
"""Filter and facet fields matched ignoring case (label ids and years match exactly)."""


def caseless_key(value: str) -> str:
    """``value`` as compared by the caseless filters and facets: canonical caseless matching
    (The Unicode Standard, ch. 3, D145: NFD, case folding, NFD; here composed again with NFC), so
    "CAFÉ", "café" and "cafe" + U+0301 are one value, and "Straße" is "STRASSE"."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", value).casefold())


def merge_case_variants(counts: dict[str, int]) -> dict[str, int]:
    """Facet counts with values that differ only in case (:func:`caseless_key`) summed under one
    spelling, the most frequent one (ties: the first in code-point order), as a filter on any
    of them matches them all: ``{"NHS": 1, "nhs": 3, "Ofsted": 2}`` -> ``{"nhs": 4, "Ofsted": 2}``."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for value, count in counts.items():
        groups.setdefault(caseless_key(str(value)), []).append((str(value), int(count)))
    merged = {}
    for variants in groups.values():
        spelling = min(variants, key=lambda vc: (-vc[1], vc[0]))[0]
        merged[spelling] = sum(c for _, c in variants)
    return merged


def facet_values(counts: dict[str, int], size: int, *, fold_case: bool = False) -> list[FacetValue]:
    """The ``size`` most frequent values of one facet: count descending, then value ascending.
    ``fold_case`` (the facets of :data:`CASELESS_FIELDS`) first merges values that differ only in
    case (:func:`merge_case_variants`), so each count is what a filter on that value finds."""
    if fold_case:
        counts = merge_case_variants(counts)
    ordered = sorted(((str(v), int(c)) for v, c in counts.items() if c > 0), key=lambda vc: (-vc[1], vc[0]))
    return [FacetValue(value=v, count=c) for v, c in ordered[:size]]


def merge_by_score(*rankings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """One ranking from several partial lists of the same scores: each id once (its highest
    score), ordered by score descending, then id."""
    best: dict[str, float] = {}
    for ranking in rankings:
        for doc_id, score in ranking:
            if doc_id not in best or score > best[doc_id]:
                best[doc_id] = score
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


TOKEN_RE = re.compile(r'\w+:"[^"]*"\*?|"[^"]*"\*?|\S+')
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
"""A query's words: letters and digits; anything else, the underscore included, separates words as
both indexes' tokenizers do (FTS5 ``unicode61``, OpenSearch ``hub_words_v2``), so ``co_operat*`` is
the phrase prefix ``co operat*``, as ``co-operat*`` is (``\w`` kept ``co_operat`` one word, which
no index holds)."""
FIELDS = ("title",)
"""Fields a clause can be limited to with ``field:`` (``title:inspection``, ``title:"joint area"``)."""
FIELD_RE = re.compile(r'^([^\W\d_]+):(?!//)(?=[\w"])(.*)$', re.DOTALL)
"""``name:rest`` where ``name`` is letters and ``rest`` starts with a word or a quote (not ``//``:
a pasted URL stays words; ``10:30`` is not a field)."""
BARE_FIELD_RE = re.compile(r"^(" + "|".join(FIELDS) + r"):(?![\w\"]|//)", re.IGNORECASE)
"""A known field name whose colon is not followed by a word or a quote (``title:``, ``title: x``,
``title:-x``): the field would apply to nothing."""


class QueryTerm(BaseModel):
    """One clause of a parsed query: ``words`` (a phrase when more than one), whether its last word
    is a prefix (``prefix*``; ``covid-1*`` is the phrase "covid" + a word beginning "1"), the
    operator joining it to the clause before it (``OR`` by default) and the field it is limited to
    (None: title and text)."""

    words: list[str]
    prefix: bool = False
    operator: Literal["AND", "OR", "NOT"] = "OR"
    field: Literal["title"] | None = None


def parse_query(text: str) -> list[QueryTerm]:
    """Parse the user query language into clauses; every backend renders the same clauses.

    Supported: ``"exact phrase"``, ``AND`` / ``OR`` / ``NOT`` (upper case, between clauses),
    ``prefix*``, and ``title:`` before a word, prefix or quoted phrase to match it in the title
    only (:data:`FIELDS`); other words are ORed (BM25 ranking puts documents with more terms
    first). Punctuation inside a word makes it a phrase (``post-16`` -> ``"post 16"``), and a ``*``
    at its end makes the phrase's last word a prefix (``covid-1*``: "covid" followed by a word
    beginning with "1", as FTS5's ``"covid 1"*``, which may be written too; it was the phrase
    "covid 1"); a leading ``AND`` or ``OR`` and a trailing operator are ignored; a clause without words (``""``, ``-``)
    is dropped together with the operator before it (``a NOT "" b`` is ``a b``, not ``a NOT b``).
    The text is NFKC-normalised first (full-width ``ｔｉｔｌｅ:`` is ``title:``).

    Raises:
        ValueError: a query starting with ``NOT`` (nothing to exclude from: a text index cannot
            list every document that lacks a word), two operators in a row (``a NOT AND b``:
            which one was meant cannot be known), ``name:word`` with a field other than
            :data:`FIELDS` (``author:smith`` used to search the phrase "author smith" and find
            nothing, silently), or a field followed by no word (``title: x``, ``title:-x``).
    """
    terms: list[QueryTerm] = []
    pending: str | None = None
    for token in TOKEN_RE.findall(unicodedata.normalize("NFKC", text)):
        if token in ("AND", "OR", "NOT"):
            if not terms and token == "NOT":
                raise ValueError("a query cannot start with NOT: put the words to search for first "
                                 "(e.g. 'inspection NOT durham')")
            if pending is not None:
                raise ValueError(f"two operators in a row ({pending} {token}): put words or a quoted phrase "
                                 "between them")
            if terms:
                pending = token
            continue
        field = None
        bare = BARE_FIELD_RE.match(token)
        if bare:
            raise ValueError(f"{bare.group(1).lower()}: needs a word, a prefix* or a \"quoted phrase\" right after the colon "
                             f"(no space), e.g. {bare.group(1).lower()}:inspection; quote it (\"{token}\") to "
                             "search the text as words")
        named = FIELD_RE.match(token)
        if named:
            field = named.group(1).lower()
            if field not in FIELDS:
                raise ValueError(f"unknown field {named.group(1)!r} in {token!r}: a clause can be limited to "
                                 f"{', '.join(f + ':' for f in FIELDS)} only; use the search filters for the "
                                 f"rest, or quote the text (\"{token}\") to search it as words")
            token = named.group(2)
        words = WORD_RE.findall(token)
        if not words:  # an empty phrase or punctuation: dropped with the operator before it
            pending = None
            continue
        prefix = token.endswith("*")  # ``"covid 1"*`` too; a ``*`` inside quotes is punctuation
        terms.append(QueryTerm(words=words, prefix=prefix, operator=pending or "OR", field=field))
        pending = None
    return terms


class ClauseGroup(BaseModel):
    """One ``OR`` alternative of a query: the documents holding every ``must`` clause (somewhere in
    their text or title) and no ``must_not`` clause (anywhere)."""

    must: list[QueryTerm]
    must_not: list[QueryTerm] = []


def clause_groups(text: str) -> list[ClauseGroup]:
    """The query's clauses grouped with SQLite FTS5's precedence (NOT binds tighter than AND, AND
    tighter than OR): ``a OR b AND c NOT d`` -> ``[{a}, {b, c; not d}]``. Within a group
    left-to-right set algebra equals that precedence (``(A ∩ B) \\ C = A ∩ (B \\ C)``)."""
    groups: list[ClauseGroup] = []
    for term in parse_query(text):
        if term.operator == "OR" or not groups:
            groups.append(ClauseGroup(must=[term]))
        elif term.operator == "AND":
            groups[-1].must.append(term)
        else:
            groups[-1].must_not.append(term)
    return groups


def is_constrained(text: str) -> bool:
    """True when the query has a clause joined by ``AND`` or ``NOT`` (:func:`parse_query`): a
    logical condition on what its results hold, evaluated per document
    (:func:`matching_documents`). Hybrid search then ranks only the BM25 candidates, because a
    vector cannot honour a requirement or an exclusion: a document the text query does not match
    must not come back through its similarity alone. A quoted phrase is not a condition here: it
    ranks exact matches first in BM25 while the semantic side still finds paraphrases (say
    "children missing from education" for ``"children missing education"``). A clause limited to a
    field (``title:``) is a condition too: a vector cannot say where a word is."""
    return any(len(group.must) > 1 or group.must_not or any(term.field for term in group.must)
               for group in clause_groups(text))


def matching_documents(groups: list[ClauseGroup], documents_with: Callable[[QueryTerm], set[str]]) -> set[str]:
    """The ids of the documents a constrained query matches: the union over ``groups`` of the
    documents holding every ``must`` clause and none of the ``must_not`` clauses, each clause
    looked up by ``documents_with`` (ids of the documents with a chunk or title matching it; called
    once per distinct clause). Document-level, unlike a text index's own boolean query, which
    matches one chunk at a time: ``a NOT b`` must drop a report that says ``b`` on another page."""
    cache: dict[tuple, set[str]] = {}

    def holding(term: QueryTerm) -> set[str]:
        key = (tuple(term.words), term.prefix, term.field)  # "w" and "title:w" are different clauses
        if key not in cache:
            cache[key] = documents_with(term)
        return cache[key]

    matched: set[str] = set()
    for group in groups:
        found = set.intersection(*(holding(term) for term in group.must))
        for term in group.must_not:
            found -= holding(term)
        matched |= found
    return matched


def fts5_clause(term: QueryTerm, prefix_words: dict[str, list[str]] | None = None) -> str:
    """One clause in SQLite FTS5 syntax: a quoted phrase (or word), ``*`` for a prefix, behind a
    column filter (``title : ...``) when the clause is limited to a field.

    FTS5 stems a prefix as a word (``evaluat*`` stays ``evaluat``) and matches it against stems
    (``evaluation`` is stored as ``evalu``), so a prefix longer than its words' stem finds nothing;
    ``prefix_words`` (prefix -> indexed words that begin with it, :func:`prefix_range`) adds those
    words as alternatives, which FTS5 stems like the text: ``("evaluat"* OR "evaluation" OR ...)``.
    A phrase ending in a prefix (``covid-1*``) is FTS5's phrase prefix ``"covid 1"*`` (its last word a
    prefix), with the same alternatives for that word (``"covid 19"``)."""
    phrase = " ".join(term.words)
    clause = '"' + phrase + '"' + ("*" if term.prefix else "")
    extra = (prefix_words or {}).get(term.words[-1], []) if term.prefix else []
    if extra:
        lead = "".join(w + " " for w in term.words[:-1])
        clause = "(" + " OR ".join([clause] + ['"' + lead + w + '"' for w in extra]) + ")"
    return f"{term.field} : {clause}" if term.field else clause


PREFIX_WORDS_LIMIT = 64
"""Most indexed words a ``prefix*`` adds as alternatives (shortest first). A prefix shared by more
words is short, and a short prefix is already a prefix of their stems."""
VOCABULARY_WORD_RE = re.compile(r"[^\W_]+")


def fold_word(text: str) -> str:
    """A word as the index's tokenizers file it: NFKC, case-folded, accents removed (FTS5's
    ``unicode61 remove_diacritics 2``; OpenSearch's ``lowercase`` + ``asciifolding``)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def vocabulary_words(texts) -> set[str]:
    """The distinct folded words (:func:`fold_word`) of ``texts`` (an iterable of strings): letters
    and digits, split at anything else as FTS5's ``unicode61`` tokenizer splits."""
    raw: set[str] = set()
    for text in texts:
        if text:
            raw.update(VOCABULARY_WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()))
    words: set[str] = set()
    for word in raw:  # accents removed per distinct word, not per character of the text (half the time)
        words.update(VOCABULARY_WORD_RE.findall(fold_word(word)))
    return words


def prefix_range(prefix: str) -> tuple[str, str] | None:
    """``(low, high)`` such that ``low <= word < high`` holds for exactly the words that begin with
    the folded ``prefix``; None for a prefix with no letter or digit."""
    low = fold_word(prefix)
    if not VOCABULARY_WORD_RE.fullmatch(low):
        return None
    return low, low[:-1] + chr(ord(low[-1]) + 1)


def prefix_terms(text: str) -> list[str]:
    """The prefixes of the query's ``prefix*`` clauses: the clause's word, or a phrase's last word
    (``covid-1*`` -> ``1``); each once, in order."""
    seen: list[str] = []
    for term in parse_query(text):
        word = term.words[-1]
        if term.prefix and word not in seen:
            seen.append(word)
    return seen


def scoring_terms(text: str) -> list[QueryTerm]:
    """The clauses that rank a document: every clause but the ``NOT`` ones, ORed. A constrained
    query (:func:`is_constrained`) ranks the documents of :func:`matching_documents` by these, so
    a document's best passage may hold one ``AND`` term and another passage the other.

    A word or phrase repeated counts as often as it is written: both backends sum BM25 over the
    clauses, so a repeated word weighs more, BM25's query term frequency (Robertson et al., TREC-3,
    1994, with a linear qtf). Long natural-language queries rely on it: counting each word once
    took CISI dev's BM25 nDCG@10 from 0.378 to 0.329. A repeated ``prefix*`` (same words in any
    case, same field) counts once: each copy adds its words again (200 copies of ``ev*`` took 2.8 s
    against 0.08 s)."""
    out: list[QueryTerm] = []
    prefixes: set[tuple] = set()
    for group in clause_groups(text):
        for term in group.must:
            if term.prefix:
                key = (tuple(w.casefold() for w in term.words), term.field)
                if key in prefixes:
                    continue
                prefixes.add(key)
            out.append(term)
    return out


def scoring_fts5_query(text: str, prefix_words: dict[str, list[str]] | None = None) -> str | None:
    """:func:`scoring_terms` in SQLite FTS5 syntax, ORed (None when nothing is left);
    ``prefix_words`` as in :func:`fts5_clause`."""
    parts = [fts5_clause(term, prefix_words) for term in scoring_terms(text)]
    return " OR ".join(parts) if parts else None


def similar_text(title: str | None, doc_id: str) -> str:
    """The text a more-like-this response records as its query: the document's title (cut to
    :data:`MAX_QUERY_CHARS`) when it has a word, else the document id."""
    text = (title or "").strip()[:MAX_QUERY_CHARS].strip()
    try:
        return text if parse_query(text) else doc_id
    except ValueError:  # a title such as "NOT FOR SALE" is not a valid query
        return doc_id


def title_key(text: str) -> str:
    """Normalised title for exact matching: NFKC, case-folded, punctuation removed, spaces single."""
    return " ".join(WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold()))


def query_terms(text: str) -> list[str]:
    """Lower-cased words of a query (for highlighting), without operators, field names
    (``title:``) and short words."""
    text = re.sub(r'(?<!\S)[^\W\d_]+:(?=[\w"])', " ", text)
    return [w.lower() for w in WORD_RE.findall(text) if len(w) > 2 and w not in ("AND", "OR", "NOT")]


def reciprocal_rank_fusion(rankings: list[list[str]], k: float = RRF_K,
                           weights: list[float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = sum over lists i of weights[i] / (k + rank_i(d)), rank
    from 1; a list that lacks ``d`` adds nothing. ``weights`` defaults to 1 per list (plain RRF).

    Source: Cormack, Clarke & Buettcher, SIGIR 2009 (k=60, no weights); the per-list weights are
    a plain generalisation (all 1: the original). Returns (id, score) best first. Equal scores
    (common: ranks (a, b) and (b, a) sum alike) are ordered by the first list's ranks, then the
    next list's (a list that lacks a document ranks it last), then by id: for hybrid search, BM25
    decides ties. Chosen over ties by id (an arbitrary order: a document's id hashes its URL, so a
    site served on another port ranked differently) on the public collections' tuning queries
    (`benchmarks/bench_fusion.py` lists, 8-30 random id assignments): nDCG@10 SciFact train
    0.7117 +- 0.0017 by id against 0.7154 BM25 first (0.7083 semantic first), CISI dev
    0.4281 +- 0.0010 against 0.4291 (0.4270).
    Raises ValueError when ``weights`` does not have one entry per list or ``k`` is negative."""
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    if k < 0:
        raise ValueError(f"k must be >= 0, not {k}")
    scores: dict[str, float] = {}
    ranks: dict[str, list[float]] = {}
    for position, (weight, ranking) in enumerate(zip(weights, rankings)):
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
            best = ranks.setdefault(doc_id, [math.inf] * len(rankings))
            best[position] = min(best[position], rank)
    # rounded for the comparison only: the same two terms summed in another order may differ in the last bit
    return sorted(scores.items(), key=lambda item: (-round(item[1], 12), ranks[item[0]], item[0]))


Normalisation = Literal["minmax", "zscore", "theoretical"]


def normalise_scores(ranking: list[tuple[str, float]], method: Normalisation,
                     lower_bound: float = 0.0) -> dict[str, float]:
    """Per-query score normalisation of one retriever's ``(id, score)`` list (Bruch, Gai &
    Ingber 2023, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS):

    * ``minmax``: (s - min) / (max - min) over the list, so the list spans [0, 1];
    * ``zscore``: (s - mean) / standard deviation (population) over the list;
    * ``theoretical``: (s - ``lower_bound``) / (max - ``lower_bound``), the theoretical minimum of
      the score (0 for BM25, -1 for a cosine) and the observed maximum (their "TM2C2").

    A list whose scores are all equal (one document, or a zero spread) normalises to 1.0 each
    (0.0 for ``zscore``). Returns ``{id: normalised score}``; an empty list gives ``{}``. Raises
    ValueError for an unknown method."""
    if not ranking:
        return {}
    values = [float(s) for _, s in ranking]
    if method == "minmax":
        low, high = min(values), max(values)
        return {d: (float(s) - low) / (high - low) if high > low else 1.0 for d, s in ranking}
    if method == "theoretical":
        high = max(values)
        return {d: (float(s) - lower_bound) / (high - lower_bound) if high > lower_bound else 1.0
                for d, s in ranking}
    if method == "zscore":
        mean = sum(values) / len(values)
        spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        return {d: (float(s) - mean) / spread if spread > 0 else 0.0 for d, s in ranking}
    raise ValueError(f"unknown normalisation {method!r}: minmax, zscore or theoretical")


def convex_combination(bm25: list[tuple[str, float]], semantic: list[tuple[str, float]], semantic_weight: float,
                       normalisation: Normalisation = "minmax") -> list[tuple[str, float]]:
    """Fuse two scored lists by a convex combination of their normalised scores (Bruch, Gai &
    Ingber 2023, "An Analysis of Fusion Functions for Hybrid Retrieval"):
    score(d) = (1 - w) * n_bm25(d) + w * n_sem(d), ``w`` = ``semantic_weight`` in [0, 1],
    n = :func:`normalise_scores` of each list (theoretical lower bounds: 0 for BM25 scores, -1 for
    cosines). A document missing from a list takes that
    list's lowest normalised score (0 under minmax), as if ranked just below its end.

    ``bm25``: ``(id, BM25 score)``, higher is better; ``semantic``: ``(id, cosine)`` in [-1, 1].
    Returns ``(id, fused score)`` over the union of both lists, best first, ties by id. Raises
    ValueError when ``semantic_weight`` is outside [0, 1] or the normalisation is unknown."""
    if not 0.0 <= semantic_weight <= 1.0:
        raise ValueError(f"semantic_weight must be within [0, 1], not {semantic_weight}")
    lexical = normalise_scores(bm25, normalisation, lower_bound=0.0)
    dense = normalise_scores(semantic, normalisation, lower_bound=-1.0)
    floor_lexical = min(lexical.values(), default=0.0)
    floor_dense = min(dense.values(), default=0.0)
    scores = {d: (1.0 - semantic_weight) * lexical.get(d, floor_lexical) + semantic_weight * dense.get(d, floor_dense)
              for d in {**lexical, **dense}}
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def fuse(mode: SearchMode, bm25: list[tuple[str, float]], semantic: list[tuple[str, float]],
         hybrid: "HybridSettings | None" = None) -> list[tuple[str, float]]:
    """The document ranking of a mode from the per-retriever rankings (best first, ``(id, score)``:
    BM25 score, higher is better; cosine of the best chunk): bm25 or semantic as they are; hybrid
    as ``hybrid`` (``config.settings.HybridSettings``, the ``search.hybrid`` settings; default
    values when None) says: ``rrf`` = :func:`reciprocal_rank_fusion` with ``rrf_k`` and the
    weights 2 * (1 - ``semantic_weight``) for BM25 and 2 * ``semantic_weight`` for semantic
    (0.5: plain RRF), ``convex`` = :func:`convex_combination` with ``semantic_weight`` and
    ``normalisation``. Returns ``(id, score)`` best first; hybrid scores are the fused scores."""
    if mode == "bm25":
        return list(bm25)
    if mode == "semantic":
        return list(semantic)
    from config.settings import HybridSettings

    hybrid = hybrid or HybridSettings()
    if hybrid.method == "convex":
        return convex_combination(bm25, semantic, hybrid.semantic_weight, hybrid.normalisation)
    w = hybrid.semantic_weight
    return reciprocal_rank_fusion([[d for d, _ in bm25], [d for d, _ in semantic]], k=hybrid.rrf_k,
                                  weights=[2.0 * (1.0 - w), 2.0 * w])


def feedback_vector(query_vector: np.ndarray, passages: np.ndarray, weight: float) -> np.ndarray:
    """Rocchio pseudo-relevance feedback on a dense query (Rocchio 1971; dense vectors as in Li et
    al. 2023, ACM TOIS, "Pseudo Relevance Feedback with Deep Language Models and Dense Retrievers"):
    ``unit(query_vector + weight * mean(passages))``.

    Args:
        query_vector: shape (dim,), unit length.
        passages: shape (n, dim), the feedback passages' unit vectors; n may be 0.
        weight: the feedback's weight (>= 0).
    Returns:
        float32, shape (dim,), unit length; ``query_vector`` itself when there is no feedback.
    Raises:
        ValueError: passages of another dimension, or a negative weight.
    """
    query_vector = np.asarray(query_vector, np.float32)
    passages = np.asarray(passages, np.float32)
    if passages.size and (passages.ndim != 2 or passages.shape[1] != query_vector.shape[0]):
        raise ValueError(f"feedback passages of shape {passages.shape} do not match a query vector of "
                         f"dimension {query_vector.shape[0]}")
    if weight < 0:
        raise ValueError(f"feedback weight must be >= 0, got {weight}")
    if not len(passages) or weight == 0:
        return query_vector
    moved = query_vector + weight * passages.mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 0 else query_vector


def exact_title_first(ranked: list[tuple[str, float]], exact: set[str]) -> list[tuple[str, float]]:
    """Move documents whose whole title equals the query (``exact``) to the front, in their
    existing order; exact matches the ranking lacks follow them, by id, with the top score.
    (The keyword sub-field match of search engines, ``title.keyword`` boosted.)"""
    if not exact:
        return ranked
    top = max((score for _, score in ranked), default=0.0)
    known = {d for d, _ in ranked}
    first = [(d, s) for d, s in ranked if d in exact] + [(d, top) for d in sorted(exact - known)]
    return first + [(d, s) for d, s in ranked if d not in exact]


def highlight(text: str, terms: list[str], *, width: int = 240) -> str:
    """A window of ``text`` around the first query term, with terms wrapped in ``<mark>``."""
    if not text:
        return ""
    lowered = text.lower()
    positions = [lowered.find(t) for t in terms if lowered.find(t) >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    window = text[start:start + width]
    if terms:
        pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)) + r")",
                             re.I)
        window = pattern.sub(r"<mark>\1</mark>", window)
    return ("… " if start else "") + window + (" …" if start + width < len(text) else "")


def check_query_vector(mode: str, vector, dimension: int) -> None:
    """Raise ValueError unless ``vector`` is a query vector of shape (``dimension``,) with finite
    values and a non-zero length (semantic and hybrid modes need one; every backend checks it the
    same way: a zero or NaN vector has no cosine, and OpenSearch refused it while the embedded
    index returned arbitrary documents)."""
    if vector is None:
        raise ValueError(f"mode {mode} needs a query vector")
    array = np.asarray(vector, dtype=np.float64)
    if array.shape != (dimension,):
        raise ValueError(f"query vector shape {array.shape} != ({dimension},)")
    if not np.isfinite(array).all():
        raise ValueError("query vector holds NaN or infinite values: embed the query again")
    if not np.any(array):
        raise ValueError("query vector is all zeros: it has no direction to compare by cosine")
