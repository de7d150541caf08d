"""The document classifier: themes, policy areas and evidence types with scores and evidence.

:class:`TaxonomyClassifier` computes each label kind's evidence features
(:mod:`classify.features`), scores them zero-shot (:mod:`classify.zero_shot`) or with the trained
model (:mod:`classify.supervised`, when ``classification.method`` asks for it or, with ``auto``,
when the model file exists), and applies the decision rule:

* a label is assigned when its score reaches its threshold; zero-shot also requires the score to
  be within ``relative_margin`` of the document's best label of that kind (a document is mainly
  about a few things), and at most ``max_labels`` per kind (``max_labels_by_kind``) are kept, the
  best-scoring ones;
* a kind with a ``scope`` in the taxonomy (themes: documents about collaboration) applies only to
  documents in scope: zero-shot needs ``scope_min_density`` scope keywords per 1,000 words or a
  scope similarity of ``scope_min_similarity``; the trained model sees both as features;
* scores within ``review_margin`` above the threshold are marked ``uncertain`` for a person to check;
* every label carries its evidence: the taxonomy keywords found and the two most similar passages;
* evidence types (study design) are rules plus the same machinery: a design is assigned only when
  at least one of its keywords is in the text *and* its zero-shot score reaches
  ``evidence_type_threshold``; a document with text but no design gets the keyword-less fallback
  type (``E7`` descriptive, guidance or opinion in the shipped taxonomy), marked uncertain;
* a document in a language the embedding model does not read (``classification.model_languages``;
  all-MiniLM-L6-v2 is English-only, so a German page's cosines to English label profiles are noise)
  is labelled from the taxonomy's ``keywords_by_language`` for its language alone
  (:meth:`TaxonomyClassifier.classify_by_keywords`), every label marked uncertain; a language the
  taxonomy has no keywords for goes through the model like English (mostly below the thresholds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from classify.features import (FEATURES, DocumentEvidence, KeywordList, LabelProfiles, keyword_hits, keyword_words,
                               label_features, word_count, word_ngrams)
from classify.supervised import ModelError, TrainedModel
from classify.zero_shot import LEAD_WEIGHT, keyword_only_scores, zero_shot_scores
from config.settings import ClassificationSettings
from config.taxonomy import Taxonomy
from core.models import LabelScore
from index.embedding import Embedder

log = logging.getLogger(__name__)

KINDS = ("themes", "policy_areas", "evidence_types")
TRAINABLE_KINDS = ("themes", "policy_areas")
PASSAGE_CHARS = 300
MIN_DESIGN_TERMS = 2  # distinct keywords of a study design that must be in the text
MIN_KEYWORD_ONLY_TERMS = 2  # distinct keywords a keyword-only label needs (one word repeated is not enough)
MIN_MODEL_SHARE = 0.25  # share of a document's words in model languages from which the model labels it anyway
SHARE_SAMPLE_CHUNKS = 40  # chunks (evenly spaced) whose language is identified for that share
SHARE_WINDOW_WORDS = 40  # each sampled chunk is identified in windows of this many words


def base_language(language: str) -> str:
    """The primary language subtag of a BCP 47 / ISO 639 code, lower case: ``en-GB`` -> ``en``."""
    return language.strip().replace("_", "-").split("-")[0].lower()


def word_windows(text: str, size: int) -> list[str]:
    """``text`` cut into runs of ``size`` whitespace-separated words, the last run joined to the one
    before when it is shorter than half of ``size``; [] for a text without words.

    Raises:
        ValueError: ``size`` < 1.
    """
    if size < 1:
        raise ValueError(f"a window holds at least one word, got {size}")
    words = text.split()
    runs = [words[i:i + size] for i in range(0, len(words), size)]
    if len(runs) > 1 and len(runs[-1]) < size / 2:
        runs[-2].extend(runs.pop())
    return [" ".join(run) for run in runs]


def keyword_passages(chunk_texts: list[str], terms: list[str], limit: int = 2,
                     chunk_grams: list | None = None) -> list[str]:
    """The ``limit`` chunks (cut to :data:`PASSAGE_CHARS`) holding the most of ``terms`` (matched as
    whole words, case-insensitive, see :func:`classify.features.keyword_hits`), best first; chunks
    holding none are left out. ``chunk_grams``: :func:`classify.features.word_ngrams` of each chunk,
    when already computed."""
    keys = [key for key in map(keyword_words, terms) if key]
    counted = []
    for position, text in enumerate(chunk_texts):
        grams = chunk_grams[position] if chunk_grams is not None else word_ngrams(text)
        count = sum(keyword_hits(key, grams) for key in keys)
        if count:
            counted.append((-count, position))
    return [chunk_texts[i][:PASSAGE_CHARS] for _, i in sorted(counted)[:limit]]


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """Whether the word sequence ``short`` occurs in ``long`` (contiguously) and is shorter."""
    n = len(short)
    return n < len(long) and any(long[i:i + n] == short for i in range(len(long) - n + 1))


def independent_hits(keywords: list[KeywordList], ngrams) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Like :func:`classify.features.keyword_evidence`, but each occurrence counts once: keywords with
    the same words (``Scuola`` and ``scuola``) count once, and a keyword's hits inside longer keywords
    of the same label that were found are taken off its own (``maladie`` inside ``assurance
    maladie``); a keyword left with no hits of its own is neither counted nor listed.

    Returns:
        ``(hits, distinct, terms)`` per label, as :func:`classify.features.keyword_evidence`.
    """
    hits = np.zeros(len(keywords), dtype=np.float32)
    distinct = np.zeros(len(keywords), dtype=np.float32)
    terms: list[list[str]] = []
    for j, label_keywords in enumerate(keywords):
        unique: dict[tuple[str, ...], str] = {}
        for keyword, words in label_keywords:
            unique.setdefault(words, keyword)
        counts = {words: keyword_hits(words, ngrams) for words in unique}
        found = []
        for words, count in counts.items():
            own = count - sum(c for other, c in counts.items() if c and _inside(words, other))
            if own > 0:
                found.append(unique[words])
                hits[j] += own
        distinct[j] = len(found)
        terms.append(found)
    return hits, distinct, terms


@dataclass(frozen=True)
class Classification:
    """Labels assigned to one document, per kind, best first."""

    themes: list[LabelScore] = field(default_factory=list)
    policy_areas: list[LabelScore] = field(default_factory=list)
    evidence_types: list[LabelScore] = field(default_factory=list)


class TaxonomyClassifier:
    """Classifies documents from their chunk texts and embeddings (see the module docstring).

    Args:
        taxonomy: the validated taxonomy.
        embedder: embeds the label profiles (once, lazily).
        settings: thresholds and ``method``.
        model_path: the trained model file (used by ``method`` ``auto`` / ``supervised``).
    Raises (on first use):
        ModelError: ``method`` is ``supervised`` and the model cannot be loaded.
    """

    def __init__(self, taxonomy: Taxonomy, embedder: Embedder, settings: ClassificationSettings,
                 model_path=None):
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.settings = settings
        self.model_path = model_path

    @cached_property
    def profiles(self) -> dict[str, LabelProfiles]:
        """Label profiles of every kind, embedded once."""
        return {kind: LabelProfiles.build(self.taxonomy.labels_of(kind), self.embedder, self.taxonomy.scope.get(kind))
                for kind in KINDS}

    @cached_property
    def model(self) -> TrainedModel | None:
        """The trained model in use, or None for zero-shot."""
        method = self.settings.method
        if method == "zero_shot" or self.model_path is None:
            if method == "supervised":
                raise ModelError("classification.method is supervised but no model path is configured")
            return None
        if method == "auto" and not self.model_path.exists():
            return None
        model = TrainedModel.load(self.model_path)
        log.info("classifier: trained model %s (%d documents)", self.model_path, model.trained_on)
        return model

    @property
    def method(self) -> str:
        """``supervised`` when a trained model is in use, else ``zero_shot``."""
        return "supervised" if self.model is not None else "zero_shot"

    def evidence(self, chunk_texts: list[str], chunk_vectors: np.ndarray) -> dict[str, DocumentEvidence]:
        """Per kind, the label features of a document (see :func:`classify.features.label_features`)."""
        ngrams = word_ngrams(" ".join(chunk_texts))
        return {kind: label_features(chunk_texts, chunk_vectors, profiles, ngrams)
                for kind, profiles in self.profiles.items() if profiles.labels}

    def reads(self, language: str | None) -> bool:
        """Whether the embedding model reads ``language`` (``classification.model_languages``; a
        region such as ``en-GB`` is ignored). An unknown language (None or empty) counts as read."""
        if not language or not language.strip():
            return True
        return base_language(language) in {base_language(l) for l in self.settings.model_languages}

    def by_keywords(self, language: str | None) -> bool:
        """Whether a document in ``language`` is labelled by :meth:`classify_by_keywords`: the model
        does not read it and the taxonomy has ``keywords_by_language`` for it (any kind)."""
        if self.reads(language):
            return False
        code = base_language(language)
        return any(code in profiles.keywords_by_language for profiles in self.profiles.values())

    def model_language_share(self, chunk_texts: list[str]) -> float:
        """Share (0..1) of the words of a document's chunks that are in a model language, by
        py3langid on windows of :data:`SHARE_WINDOW_WORDS` words (a shorter last one joins the one
        before) of up to :data:`SHARE_SAMPLE_CHUNKS` evenly spaced chunks; windows too short to
        identify are left out (0 when none can be). A bilingual English / French report, which
        document-level identification may call French, keeps the model this way, and so does a
        one-chunk page holding both (identified whole, its chunk counted as French)."""
        from extractors.text import detect_language

        step = max(1, len(chunk_texts) // SHARE_SAMPLE_CHUNKS)
        read = total = 0
        for text in chunk_texts[::step][:SHARE_SAMPLE_CHUNKS]:
            for window in word_windows(text, SHARE_WINDOW_WORDS):
                code, _ = detect_language(window)
                if code is None:
                    continue
                words = len(window.split())
                total += words
                read += words if self.reads(code) else 0
        return read / total if total else 0.0

    def model_reads(self, chunk_texts: list[str], language: str | None) -> bool:
        """Whether the embedding model reads enough of a document for its features to mean something:
        its detected language is a model language (:meth:`reads`), or at least :data:`MIN_MODEL_SHARE`
        of its words are (:meth:`model_language_share`: a bilingual English / French report called
        French). Such documents are labelled by the model and a trained model learns from them."""
        return self.reads(language) or self.model_language_share(chunk_texts) >= MIN_MODEL_SHARE

    def classify(self, chunk_texts: list[str], chunk_vectors: np.ndarray, language: str | None = None) -> Classification:
        """Labels for a document given its chunks (texts and unit vectors of shape (n, dim)) and its
        detected language (ISO 639-1; None when unknown). A document without chunks gets no labels;
        one in a language the model does not read is labelled by :meth:`classify_by_keywords` when the
        taxonomy has keywords in that language and less than :data:`MIN_MODEL_SHARE` of its words are
        in a model language (:meth:`model_language_share`), else by the model as any other (its
        cosines mostly stay below the thresholds; a bilingual page keeps its English evidence)."""
        if len(chunk_texts) == 0:
            return Classification()
        if self.by_keywords(language) and not self.model_reads(chunk_texts, language):
            return self.classify_by_keywords(chunk_texts, base_language(language))
        evidence = self.evidence(chunk_texts, chunk_vectors)
        result = {kind: self._decide(kind, evidence[kind], chunk_texts) for kind in evidence}
        return Classification(**result)

    def classify_by_keywords(self, chunk_texts: list[str], language: str) -> Classification:
        """Labels from the taxonomy's keywords in ``language`` alone (no embeddings, no trained model).

        Hits are counted by :func:`independent_hits` (a keyword inside a longer one that was found,
        ``maladie`` in ``assurance maladie``, counts only where it stands alone; a keyword listed twice
        counts once). A label is assigned when :func:`classify.zero_shot.keyword_only_scores` (0..1)
        reaches ``keyword_only_threshold``, at least :data:`MIN_KEYWORD_ONLY_TERMS` distinct keywords
        of it are found (:data:`MIN_DESIGN_TERMS` for evidence types) and its hits reach
        ``keyword_only_relative`` times those of the kind's best label; a kind with a scope needs
        ``scope_min_density`` of the scope's keywords in that language per 1,000 words. At most
        ``max_labels`` per kind, every one marked uncertain, with the keywords found and the passages
        holding most of them as evidence; evidence types fall back as in :meth:`classify`. A language
        without keywords in the taxonomy gets no theme or policy area.
        """
        ngrams = word_ngrams(" ".join(chunk_texts))
        words = word_count(ngrams)
        chunk_grams: list = []  # each chunk's n-grams, computed once when a label needs its passages
        result = {}
        for kind, profiles in self.profiles.items():
            if not profiles.labels:
                continue
            keywords = profiles.keywords_by_language.get(language)
            assigned: list[LabelScore] = []
            if keywords is not None and self._in_scope_by_keywords(profiles, language, ngrams, words):
                hits, distinct, terms = independent_hits(keywords, ngrams)
                scores = keyword_only_scores(hits, words, self.settings)
                least_hits = self.settings.keyword_only_relative * float(hits.max(initial=0.0))
                least_terms = MIN_DESIGN_TERMS if kind == "evidence_types" else MIN_KEYWORD_ONLY_TERMS
                most = self.settings.max_labels_of(kind)
                for j in np.lexsort((-hits, -scores)):
                    if scores[j] < self.settings.keyword_only_threshold or len(assigned) >= most:
                        break
                    if distinct[j] < least_terms or hits[j] < least_hits:
                        continue
                    label = profiles.labels[j]
                    chunk_grams = chunk_grams or [word_ngrams(text) for text in chunk_texts]
                    assigned.append(LabelScore(id=label.id, label=label.label, score=round(float(scores[j]), 4),
                                               uncertain=True, terms=terms[j][:10],
                                               passages=keyword_passages(chunk_texts, terms[j],
                                                                         chunk_grams=chunk_grams)))
            result[kind] = self._with_fallback(kind, assigned)
        return Classification(**result)

    def _in_scope_by_keywords(self, profiles: LabelProfiles, language: str, ngrams, words: int) -> bool:
        """Keyword-only scope rule: no scope, or ``scope_min_density`` scope keywords in ``language``
        per 1,000 words."""
        if profiles.scope_vector is None:
            return True
        keys = profiles.scope_keywords_by_language.get(language, [])
        return sum(keyword_hits(key, ngrams) for key in keys) * 1000 / words >= self.settings.scope_min_density

    def _with_fallback(self, kind: str, assigned: list[LabelScore]) -> list[LabelScore]:
        """Evidence types: the keyword-less fallback type (uncertain) when no design was assigned."""
        if kind == "evidence_types" and not assigned:
            fallback = [label for label in self.profiles[kind].labels if not label.keywords]
            if fallback:
                return [LabelScore(id=fallback[0].id, label=fallback[0].label, score=0.0, uncertain=True)]
        return assigned

    def _scores(self, kind: str, evidence: DocumentEvidence) -> tuple[np.ndarray, list[float], bool]:
        """Scores, per-label thresholds and whether the zero-shot relative rule applies."""
        labels = self.profiles[kind].labels
        model = self.model.kinds.get(kind) if self.model is not None and kind in TRAINABLE_KINDS else None
        if model is not None:
            return (model.probabilities(evidence.features, evidence.doc_vector, [l.id for l in labels]),
                    [model.threshold_of(l.id) for l in labels], False)
        threshold = {"themes": self.settings.theme_threshold, "policy_areas": self.settings.policy_area_threshold,
                     "evidence_types": self.settings.evidence_type_threshold}[kind]
        return zero_shot_scores(evidence, self.settings, LEAD_WEIGHT.get(kind, 0.0)), [threshold] * len(labels), True

    def _in_scope(self, evidence: DocumentEvidence) -> bool:
        """Zero-shot scope rule: enough scope keywords (per 1,000 words) or a close scope match."""
        row = evidence.features[0]
        density = float(np.expm1(row[FEATURES.index("scope_kw_density")]))
        return density >= self.settings.scope_min_density or float(row[FEATURES.index("scope_sim")]) >= self.settings.scope_min_similarity

    def _decide(self, kind: str, evidence: DocumentEvidence, chunk_texts: list[str]) -> list[LabelScore]:
        labels = self.profiles[kind].labels
        scores, thresholds, relative = self._scores(kind, evidence)
        if relative and self.profiles[kind].scope_vector is not None and not self._in_scope(evidence):
            scores = np.full(len(labels), -1.0)
        best = float(scores.max()) if len(scores) else 0.0
        assigned = []
        for j, label in enumerate(labels):
            score = float(scores[j])
            if score < thresholds[j] or (relative and score < best - self.settings.relative_margin):
                continue
            if kind == "evidence_types" and len(evidence.terms[j]) < MIN_DESIGN_TERMS:
                continue  # designs are rules first: without their own vocabulary, no design
            top = np.argsort(-evidence.chunk_sims[:, j])[:2]
            assigned.append(LabelScore(
                id=label.id, label=label.label, score=round(score, 4),
                uncertain=score < thresholds[j] + self.settings.review_margin,
                terms=evidence.terms[j][:10], passages=[chunk_texts[i][:PASSAGE_CHARS] for i in top],
            ))
        assigned.sort(key=lambda s: -s.score)
        return self._with_fallback(kind, assigned[: self.settings.max_labels_of(kind)])
