"""Deterministic synthetic documents and queries for index benchmarks and bulk-load tests.

Everything comes from seeded numpy generators, so the same arguments give the same corpus on any
machine (numpy's PCG64 streams are stable across platforms and versions):

* vocabulary: ~20k pronounceable pseudo-words ranked by a Zipf law (s = 1.07), plus ~100 real
  words from the evidence/public-policy domain mixed in at ~8% of tokens;
* 50 topics: each a random unit centroid in 384 dimensions and 25 topic words (mid-frequency
  vocabulary) that its documents use more often, so BM25 and kNN find related documents;
* documents: 1-3 chunks of ~150 words, chunk and title vectors = topic centroid + Gaussian noise,
  L2-normalised float32 (cosine to the centroid ~0.7, ~0.5 between documents of a topic, ~0 across
  topics); one of 30 publishers, a date in 2000-2025, 1-3 policy areas ``P1..P14`` and 0-3 themes
  ``T1..T12`` as :class:`core.models.LabelScore`.

Document ``i`` depends only on ``(seed, i)``: ``generate(1000)`` is a prefix of ``generate(100000)``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Iterator

import numpy as np

from core.models import Chunk, IndexedDocument, LabelScore, document_id
from index.query import SearchFilters

DIMENSION = 384
VOCABULARY_SIZE = 20_000
ZIPF_EXPONENT = 1.07
TOPICS = 50
TOPIC_WORDS = 25
TOPIC_RATE = 0.06          # share of body tokens drawn from the document's topic words
DOMAIN_RATE = 0.08         # share of body tokens drawn from the real domain words
CHUNK_WORDS = (120, 180)   # words per chunk, uniform
NOISE = 0.05               # per-coordinate noise (norm ~ NOISE * sqrt(384) ~ 1 vs a unit centroid)
YEARS = (2000, 2025)
POLICY_AREAS = [f"P{i}" for i in range(1, 15)]
THEMES = [f"T{i}" for i in range(1, 13)]
EVIDENCE_TYPES = [f"E{i}" for i in range(1, 8)]

DOMAIN_WORDS = """
evidence evaluation outcomes intervention programme pilot trial randomised cohort attainment
pupils schools teachers curriculum apprenticeships skills employment unemployment welfare benefits
housing homelessness tenants landlords planning transport congestion emissions climate energy
efficiency health hospitals patients nurses mental wellbeing obesity smoking alcohol prevention
screening vaccination social care carers disability children families parenting safeguarding
youth justice policing crime reoffending probation prisons courts victims violence domestic abuse
immigration asylum integration poverty inequality deprivation income wages productivity growth
investment procurement regulation inspection devolution councils funding budget spending review
cost effectiveness value impact survey interviews qualitative quantitative longitudinal data
""".split()

PUBLISHERS = [
    "Department for Education", "Department of Health and Social Care", "Home Office", "Ministry of Justice",
    "HM Treasury", "Cabinet Office", "Department for Work and Pensions", "Department for Transport",
    "Ministry of Housing, Communities and Local Government", "Department for Energy Security and Net Zero",
    "Office for National Statistics", "National Audit Office", "Ofsted", "Care Quality Commission",
    "HM Inspectorate of Probation", "HM Inspectorate of Prisons", "Education Endowment Foundation",
    "Early Intervention Foundation", "What Works Centre for Wellbeing", "College of Policing",
    "Youth Endowment Fund", "Centre for Homelessness Impact", "Institute for Fiscal Studies",
    "The Health Foundation", "Nuffield Trust", "King's Fund", "Resolution Foundation",
    "Joseph Rowntree Foundation", "Local Government Association", "Public Health England",
]

DOC_TYPES = ["report", "evaluation", "guidance", "inspection", "policy_paper", "briefing", "blog_post",
             "news", "web_page", "transcript", "data", "other"]
DOC_TYPE_WEIGHTS = np.array([25, 20, 10, 8, 8, 8, 5, 4, 5, 2, 3, 2], dtype=float)
DOC_TYPE_WEIGHTS /= DOC_TYPE_WEIGHTS.sum()
DOC_TYPE_CDF = np.cumsum(DOC_TYPE_WEIGHTS)
DOC_TYPE_CDF[-1] = 1.0

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "tr", "th", "ch", "sk"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y"]
_CODAS = ["", "", "n", "r", "l", "s", "t", "m", "nd", "rk", "st", "x"]


class Vocabulary:
    """The pseudo-word vocabulary (rank order = frequency order), its Zipf CDF, the domain words
    and the topics (centroids and topic words), all from ``corpus_seed``."""

    def __init__(self, corpus_seed: int = 0):
        rng = np.random.default_rng([corpus_seed, 0xC0DE])
        words: list[str] = []
        seen = set(DOMAIN_WORDS)
        while len(words) < VOCABULARY_SIZE:
            syllables = int(rng.integers(1, 4))
            word = "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                           + _CODAS[rng.integers(len(_CODAS))] for _ in range(syllables))
            if len(word) >= 3 and word not in seen:
                seen.add(word)
                words.append(word)
        self.words = np.array(words, dtype=object)
        weights = 1.0 / np.arange(1, VOCABULARY_SIZE + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(weights / weights.sum())
        self.cdf[-1] = 1.0
        self.domain = np.array(DOMAIN_WORDS, dtype=object)
        centroids = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        # topic words: mid-frequency ranks (not stop-word-like, not hapaxes) plus 3 domain words
        self.topic_words = [np.concatenate([self.words[rng.choice(np.arange(200, 6000), TOPIC_WORDS - 3,
                                                                  replace=False)],
                                            rng.choice(self.domain, 3, replace=False)])
                            for _ in range(TOPICS)]
        # each topic leans towards 2 policy areas and 2 themes (labels correlate with content)
        self.topic_areas = [rng.choice(len(POLICY_AREAS), 2, replace=False) for _ in range(TOPICS)]
        self.topic_themes = [rng.choice(len(THEMES), 2, replace=False) for _ in range(TOPICS)]

    def zipf_words(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` words drawn from the Zipf distribution over the pseudo-words."""
        return self.words[np.searchsorted(self.cdf, rng.random(n), side="right")]

    def text(self, rng: np.random.Generator, n: int, topic: int) -> list[str]:
        """``n`` body words: Zipf pseudo-words with topic and domain words mixed in."""
        out = self.zipf_words(rng, n)
        kind = rng.random(n)
        topic_mask = kind < TOPIC_RATE
        domain_mask = (kind >= TOPIC_RATE) & (kind < TOPIC_RATE + DOMAIN_RATE)
        out[topic_mask] = self.topic_words[topic][rng.integers(TOPIC_WORDS, size=int(topic_mask.sum()))]
        out[domain_mask] = self.domain[rng.integers(len(self.domain), size=int(domain_mask.sum()))]
        return out.tolist()

    def vectors(self, rng: np.random.Generator, topic: int, n: int) -> np.ndarray:
        """``n`` unit float32 vectors scattered around the topic's centroid."""
        v = self.centroids[topic] + NOISE * rng.standard_normal((n, DIMENSION)).astype(np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=4)
def vocabulary(corpus_seed: int = 0) -> Vocabulary:
    """The (cached) :class:`Vocabulary` of ``corpus_seed``."""
    return Vocabulary(corpus_seed)


def _labels(rng: np.random.Generator, ids: list[str], prefix: str, lean: np.ndarray, low: int, high: int
            ) -> list[LabelScore]:
    count = int(rng.integers(low, high + 1))
    if count == 0:
        return []
    # half the time the first label is one the topic leans to
    chosen: list[int] = []
    if rng.random() < 0.5:
        chosen.append(int(lean[rng.integers(len(lean))]))
    while len(chosen) < count:
        pick = int(rng.integers(len(ids)))
        if pick not in chosen:
            chosen.append(pick)
    scores = sorted(rng.uniform(0.3, 0.95, count).tolist(), reverse=True)
    return [LabelScore(id=ids[i], label=f"{prefix} {ids[i][1:]}", score=round(s, 3), uncertain=s < 0.4)
            for i, s in zip(chosen, scores)]


def document(i: int, seed: int = 0) -> tuple[IndexedDocument, list[Chunk], np.ndarray, np.ndarray]:
    """Synthetic document number ``i`` of corpus ``seed``: (doc, chunks, chunk vectors (n, 384),
    title vector (384,)). Depends only on ``(seed, i)``."""
    vocab = vocabulary(seed)
    rng = np.random.default_rng([seed, i])
    topic = int(rng.integers(TOPICS))
    title_words = vocab.text(rng, int(rng.integers(4, 11)), topic)
    title_words[int(rng.integers(len(title_words)))] = vocab.topic_words[topic][int(rng.integers(TOPIC_WORDS))]
    title = " ".join(title_words).capitalize()
    n_chunks = int(rng.integers(1, 4))
    lengths = rng.integers(*CHUNK_WORDS, size=n_chunks)
    chunks = [Chunk(ordinal=k, page=k + 1, text=" ".join(vocab.text(rng, int(lengths[k]), topic)))
              for k in range(n_chunks)]
    vectors = vocab.vectors(rng, topic, n_chunks + 1)
    year = int(rng.integers(YEARS[0], YEARS[1] + 1))
    url = f"https://synthetic.example/{seed}/{i}"
    text = "\n\n".join(c.text for c in chunks)
    doc = IndexedDocument(
        id=document_id(url), url=url, source="synthetic", urls=[url],
        content_hash=f"{seed:04x}{i:012x}", title=title,
        publisher=PUBLISHERS[int(rng.integers(len(PUBLISHERS)))],
        published_date=date(year, int(rng.integers(1, 13)), int(rng.integers(1, 29))),
        language="en", doc_type=DOC_TYPES[int(np.searchsorted(DOC_TYPE_CDF, rng.random(), side="right"))],
        page_count=n_chunks, word_count=int(lengths.sum()), text=text,
        policy_areas=_labels(rng, POLICY_AREAS, "Policy area", vocab.topic_areas[topic], 1, 3),
        themes=_labels(rng, THEMES, "Theme", vocab.topic_themes[topic], 0, 3),
        evidence_types=_labels(np.random.default_rng([seed, i, 0xE7]), EVIDENCE_TYPES, "Evidence type",
                               np.arange(len(EVIDENCE_TYPES)), 0, 2),
        indexed_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
    )
    return doc, chunks, vectors[1:], vectors[0]


def generate(n: int, seed: int = 0, start: int = 0
             ) -> Iterator[tuple[IndexedDocument, list[Chunk], np.ndarray, np.ndarray]]:
    """Yield synthetic documents ``start .. start+n-1`` of corpus ``seed`` as
    ``(doc, chunks, vectors, title_vector)`` (the arguments of ``SearchIndex.upsert``), lazily."""
    for i in range(start, start + n):
        yield document(i, seed)


def queries(k: int, seed: int = 1, corpus_seed: int = 0) -> list[tuple[str, np.ndarray, SearchFilters]]:
    """``k`` deterministic queries for a corpus made with ``generate(..., seed=corpus_seed)``:
    ``(text, unit float32 vector (384,), filters)``.

    Text: 1-3 words, mostly the topic words of the topic the vector is near (sometimes a domain
    word or a Zipf word); filters: one of policy area, theme, publisher, year range, doc type or a
    combination, of varied selectivity (never empty: the "without filters" runs pass
    ``SearchFilters()`` instead).
    """
    vocab = vocabulary(corpus_seed)
    rng = np.random.default_rng([seed, 0x9E])
    out = []
    for _ in range(k):
        topic = int(rng.integers(TOPICS))
        words = [str(w) for w in rng.choice(vocab.topic_words[topic], int(rng.integers(1, 4)), replace=False)]
        if rng.random() < 0.3:
            words[-1] = str(rng.choice(vocab.domain))
        if rng.random() < 0.15:
            words.append(str(vocab.zipf_words(rng, 1)[0]))
        vector = vocab.vectors(rng, topic, 1)[0]
        kind = int(rng.integers(6))
        if kind == 0:
            filters = SearchFilters(policy_area=POLICY_AREAS[int(rng.choice(vocab.topic_areas[topic]))])
        elif kind == 1:
            filters = SearchFilters(theme=THEMES[int(rng.integers(len(THEMES)))])
        elif kind == 2:
            filters = SearchFilters(publisher=PUBLISHERS[int(rng.integers(len(PUBLISHERS)))])
        elif kind == 3:
            low = int(rng.integers(YEARS[0], YEARS[1] - 4))
            filters = SearchFilters(year_from=low, year_to=low + int(rng.integers(1, 6)))
        elif kind == 4:
            filters = SearchFilters(doc_type=DOC_TYPES[int(rng.choice(len(DOC_TYPES), p=DOC_TYPE_WEIGHTS))])
        else:
            filters = SearchFilters(policy_area=POLICY_AREAS[int(rng.integers(len(POLICY_AREAS)))],
                                    year_from=int(rng.integers(YEARS[0], YEARS[1] - 9)))
        out.append((" ".join(words), vector, filters))
    return out
