"""Per-label evidence features of a document, shared by the zero-shot and supervised classifiers.

For one label *kind* (themes, policy areas or evidence types) :class:`LabelProfiles` holds the
label profile vectors (the embedded ``"<label>. <description>"`` and each example passage) and
the keyword patterns. :func:`label_features` turns a document's chunks into a matrix of shape
``(n_labels, len(FEATURES))``: embedding similarity (mean of the top-3 chunk cosines, the best
chunk cosine, the share of chunks whose nearest label it is), keyword evidence (hits per 1,000
words, distinct keywords) and the same values relative to the document's best label, so that one
model can learn "this label stands out in this document" for every label, frequent or rare.

A document's *lead* (its first :data:`LEAD_CHUNKS` chunk, which starts with the title and usually
the summary) says what the document is mainly about: ``lead_sim`` is the lead's cosine to each
label, used by the zero-shot policy-area score (:mod:`classify.zero_shot`) and, with its gap to
the document's best lead cosine and its rank, by the trained model. :func:`document_vector`
is the whole document as one vector (mean of the chunk vectors next to the mean of the first
:data:`LEAD_VECTOR_CHUNKS` chunks), which the supervised model's document-level part reads.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from config.taxonomy import LabelScope, TaxonomyLabel
from index.embedding import Embedder

TOP_K_CHUNKS = 3
LEAD_CHUNKS = 1         # chunks that make up the lead for ``lead_sim``
LEAD_VECTOR_CHUNKS = 2  # chunks averaged into the lead half of :func:`document_vector`

FEATURES = (
    "sim_top3",         # mean of the 3 best chunk-to-profile cosines
    "sim_top3_gap",     # sim_top3 minus the document's best sim_top3 (<= 0)
    "sim_best",         # best chunk-to-profile cosine
    "chunk_share",      # share of chunks whose nearest label this is (0..1)
    "sim_rank",         # rank of sim_top3 in the document (0 = best) / n_labels
    "kw_density",       # log1p(keyword hits per 1,000 words)
    "kw_density_gap",   # kw_density minus the document's best kw_density (<= 0)
    "kw_distinct",      # log1p(number of distinct keywords found)
    "kw_rank",          # rank of kw_density in the document / n_labels
    "doc_best_sim",     # the document's best sim_top3 (how on-topic the document is at all)
    "doc_best_kw",      # the document's best kw_density
    "doc_words",        # log1p(words) / 10
    "scope_sim",        # mean of the 3 best chunk cosines to the kind's scope description (0 without scope)
    "scope_kw_density", # log1p(scope keyword hits per 1,000 words) (0 without scope)
    "lead_sim",         # best cosine of the lead (first LEAD_CHUNKS chunks) to the label's profiles
    "lead_sim_gap",     # lead_sim minus the document's best lead_sim (<= 0)
    "lead_rank",        # rank of lead_sim in the document / n_labels
)


WORD_RE = re.compile(r"\w+", re.UNICODE)
MAX_KEYWORD_WORDS = 6


def keyword_words(keyword: str) -> tuple[str, ...]:
    """A taxonomy keyword as lower-case words (quotes, hyphens and punctuation are separators)."""
    return tuple(WORD_RE.findall(keyword.lower()))[:MAX_KEYWORD_WORDS]


def word_ngrams(text: str, longest: int = MAX_KEYWORD_WORDS) -> Counter:
    """Counts of every run of 1..``longest`` consecutive words of ``text`` (lower-cased ``\\w+``
    words), so that each keyword is counted with one dictionary lookup instead of a regex scan."""
    words = WORD_RE.findall(text.lower())
    counts: Counter = Counter()
    for n in range(1, longest + 1):
        counts.update(zip(*(words[i:] for i in range(n))))
    return counts


def keyword_hits(words: tuple[str, ...], ngrams: Counter) -> int:
    """Occurrences of a keyword (as :func:`keyword_words`) in :func:`word_ngrams` counts; a plural
    ``s`` on the last word also counts."""
    if not words:
        return 0
    return ngrams.get(words, 0) + ngrams.get(words[:-1] + (words[-1] + "s",), 0)


KeywordList = list[tuple[str, tuple[str, ...]]]  # (keyword as written, its words)


def keyword_list(keywords: list[str]) -> KeywordList:
    """Taxonomy keywords as ``(keyword, words)`` pairs; ``"A / B"`` counts as the two keywords
    ``A`` and ``B``; keywords without a word are dropped."""
    return [(variant.strip(), keyword_words(variant)) for k in keywords for variant in k.split(" / ")
            if keyword_words(variant)]


def keyword_evidence(keywords: list[KeywordList], ngrams: Counter) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Keyword evidence of each label in a text's :func:`word_ngrams`.

    Returns:
        ``(hits, distinct, terms)``: hits per label (float32, shape (n_labels,)), distinct keywords
        found per label (same shape), and per label the keywords found, as written.
    """
    hits = np.zeros(len(keywords), dtype=np.float32)
    distinct = np.zeros(len(keywords), dtype=np.float32)
    terms: list[list[str]] = []
    for j, label_keywords in enumerate(keywords):
        found = []
        for keyword, key in label_keywords:
            count = keyword_hits(key, ngrams)
            if count:
                found.append(keyword)
                hits[j] += count
        distinct[j] = len(found)
        terms.append(found)
    return hits, distinct, terms


def word_count(ngrams: Counter) -> int:
    """Words in the text of :func:`word_ngrams` counts (at least 1)."""
    return max(1, sum(count for gram, count in ngrams.items() if len(gram) == 1))


@dataclass
class LabelProfiles:
    """The profile vectors and keyword patterns of one label kind.

    ``vectors`` has shape (n_profiles, dim), unit length; ``owners[i]`` is the label index of
    profile ``i``; ``keywords[j]`` are the ``(keyword, words)`` pairs of label ``j``;
    ``keywords_by_language[lang][j]`` the same in another language (every label has an entry,
    possibly empty, for each language any label or the scope names).
    """

    labels: list[TaxonomyLabel]
    vectors: np.ndarray
    owners: list[int]
    keywords: list[KeywordList] = field(default_factory=list)
    scope_vector: np.ndarray | None = None
    scope_keywords: list[tuple[str, ...]] = field(default_factory=list)
    keywords_by_language: dict[str, list[KeywordList]] = field(default_factory=dict)
    scope_keywords_by_language: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def build(cls, labels: list[TaxonomyLabel], embedder: Embedder, scope: LabelScope | None = None) -> "LabelProfiles":
        """Embed each label's ``"<label>. <description>"`` and its example passages; a keyword written
        ``"A / B"`` counts as the two keywords ``A`` and ``B``."""
        texts, owners = [], []
        for i, label in enumerate(labels):
            for text in [f"{label.label}. {label.description}", *label.examples]:
                texts.append(text)
                owners.append(i)
        vectors = embedder.encode(texts, "query") if texts else np.zeros((0, embedder.dimension), np.float32)
        keywords = [keyword_list(label.keywords) for label in labels]
        scope_vector = embedder.encode([scope.description], "query")[0] if scope is not None else None
        scope_keywords = [keyword_words(k) for k in scope.keywords if keyword_words(k)] if scope is not None else []
        languages = {lang for label in labels for lang in label.keywords_by_language}
        languages |= set(scope.keywords_by_language) if scope is not None else set()
        by_language = {lang: [keyword_list(label.keywords_by_language.get(lang, [])) for label in labels]
                       for lang in sorted(languages)}
        scope_by_language = {lang: [words for _, words in keyword_list(scope.keywords_by_language.get(lang, []))]
                             for lang in sorted(languages)} if scope is not None else {}
        return cls(labels=list(labels), vectors=vectors, owners=owners, keywords=keywords,
                   scope_vector=scope_vector, scope_keywords=scope_keywords,
                   keywords_by_language=by_language, scope_keywords_by_language=scope_by_language)


@dataclass
class DocumentEvidence:
    """What :func:`label_features` found in one document for one kind.

    ``features``: (n_labels, len(FEATURES)); ``chunk_sims``: (n_chunks, n_labels) best cosine of
    each chunk to each label; ``terms[j]``: keywords of label ``j`` found in the text;
    ``doc_vector``: :func:`document_vector` of the chunks, shape (2 * dim,).
    """

    features: np.ndarray
    chunk_sims: np.ndarray
    terms: list[list[str]]
    doc_vector: np.ndarray | None = None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def document_vector(chunk_vectors: np.ndarray) -> np.ndarray:
    """The document as one vector: the unit-length mean of all its chunk vectors followed by the
    unit-length mean of its first :data:`LEAD_VECTOR_CHUNKS` chunk vectors (the lead).

    Args:
        chunk_vectors: shape (n_chunks, dim), n_chunks >= 1.
    Returns:
        float32 array of shape (2 * dim,).
    Raises:
        ValueError: no chunk vectors.
    """
    if chunk_vectors.ndim != 2 or chunk_vectors.shape[0] == 0:
        raise ValueError(f"a document vector needs at least one chunk vector, got shape {chunk_vectors.shape}")
    return np.concatenate([_unit(chunk_vectors.mean(axis=0)),
                           _unit(chunk_vectors[:LEAD_VECTOR_CHUNKS].mean(axis=0))]).astype(np.float32)


def _ranks(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, 1 for the next, ... (ties broken by position)."""
    return (-values).argsort(kind="stable").argsort(kind="stable").astype(np.float32)


def label_features(chunk_texts: list[str], chunk_vectors: np.ndarray, profiles: LabelProfiles,
                   ngrams: Counter | None = None) -> DocumentEvidence:
    """Features of every label of ``profiles`` for one document.

    Args:
        chunk_texts: the document's chunks (at least one).
        chunk_vectors: their unit-length embeddings, shape (len(chunk_texts), dim).
        ngrams: :func:`word_ngrams` of the chunks joined by spaces, when already computed.
    Raises:
        ValueError: no chunks, or vectors that do not match the texts or the profiles' dimension.
    """
    n_labels = len(profiles.labels)
    if not chunk_texts:
        raise ValueError("a document without chunks has no label features")
    if chunk_vectors.shape[0] != len(chunk_texts) or chunk_vectors.shape[1] != profiles.vectors.shape[1]:
        raise ValueError(f"chunk vectors of shape {chunk_vectors.shape} do not match {len(chunk_texts)} chunks "
                         f"of dimension {profiles.vectors.shape[1]}")
    sims = chunk_vectors @ profiles.vectors.T
    per_label = np.full((len(chunk_texts), n_labels), -1.0, dtype=np.float32)
    for column, owner in enumerate(profiles.owners):
        per_label[:, owner] = np.maximum(per_label[:, owner], sims[:, column])
    k = min(TOP_K_CHUNKS, len(chunk_texts))
    top = np.sort(per_label, axis=0)[-k:, :].mean(axis=0)
    best = per_label.max(axis=0)
    lead = per_label[:LEAD_CHUNKS].max(axis=0)
    share = np.bincount(per_label.argmax(axis=1), minlength=n_labels) / len(chunk_texts)
    if ngrams is None:
        ngrams = word_ngrams(" ".join(chunk_texts))
    words = word_count(ngrams)
    hits, distinct, terms = keyword_evidence(profiles.keywords, ngrams)
    density = np.log1p(hits * 1000 / words)
    scope_sim = scope_density = 0.0
    if profiles.scope_vector is not None:
        scope_sims = np.sort(chunk_vectors @ profiles.scope_vector)[-k:]
        scope_sim = float(scope_sims.mean())
        scope_density = math.log1p(sum(keyword_hits(key, ngrams) for key in profiles.scope_keywords) * 1000 / words)
    features = np.column_stack([
        top, top - top.max(), best, share, _ranks(top) / n_labels,
        density, density - density.max(), np.log1p(distinct), _ranks(density) / n_labels,
        np.full(n_labels, top.max()), np.full(n_labels, density.max()), np.full(n_labels, math.log1p(words) / 10),
        np.full(n_labels, scope_sim), np.full(n_labels, scope_density),
        lead, lead - lead.max(), _ranks(lead) / n_labels,
    ]).astype(np.float32)
    return DocumentEvidence(features=features, chunk_sims=per_label, terms=terms,
                            doc_vector=document_vector(chunk_vectors))
