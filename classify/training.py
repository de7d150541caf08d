"""Evaluate and train the classifier on labelled documents that are already in the index.

Everything here works from the index's stored chunks and embeddings: no fetch, no extraction,
no re-embedding (only the label profiles are embedded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from classify.classifier import TRAINABLE_KINDS, TaxonomyClassifier
from classify.evaluation import FACET_COLUMNS, GoldRow, KindMetrics, match_gold, score_facet, score_kind
from classify.supervised import KindExamples, TrainedModel, cross_validated_predictions, train_kind
from index.backend import SearchIndex

log = logging.getLogger(__name__)


@dataclass
class LabelledDocument:
    """An indexed document with its gold row, chunks and chunk vectors (n_chunks, dim), and the
    values the hub gave its single-valued facets (``doc_type``, ``language``)."""

    doc_id: str
    gold: GoldRow
    chunk_texts: list[str]
    vectors: np.ndarray
    facets: dict[str, str] = field(default_factory=dict)
    evidence: dict = field(default_factory=dict, repr=False)  # kind -> DocumentEvidence, filled lazily

    @property
    def language(self) -> str | None:
        """The language the hub detected (ISO 639-1), None when unknown."""
        return self.facets.get("language") or None

    def evidence_of(self, classifier: TaxonomyClassifier, kind: str):
        """The classifier's :class:`~classify.features.DocumentEvidence` of ``kind`` (computed once)."""
        if not self.evidence:
            self.evidence = classifier.evidence(self.chunk_texts, self.vectors)
        return self.evidence[kind]


def labelled_documents(index: SearchIndex, rows: list[GoldRow]) -> tuple[list[LabelledDocument], list[str]]:
    """The indexed documents that gold ``rows`` name (matched by file name, see
    :func:`classify.evaluation.match_gold`), and the gold files not found in the index. Documents
    without chunks are left out (nothing to classify)."""
    urls, facets = {}, {}
    for doc_id in index.ids():
        doc = index.get(doc_id)
        if doc is not None:
            urls[doc_id] = [doc.url, *doc.urls]
            facets[doc_id] = {"doc_type": doc.doc_type, "language": (doc.language or "").lower()}
    matched, missing = match_gold(rows, urls)
    out = []
    for doc_id in sorted(matched, key=lambda d: matched[d].key):
        chunks, vectors = index.chunks_of(doc_id)
        if chunks:
            out.append(LabelledDocument(doc_id, matched[doc_id], [c.text for c in chunks], vectors, facets[doc_id]))
        else:
            missing.append(matched[doc_id].file)
    return out, missing


def predictions(classifier: TaxonomyClassifier, documents: list[LabelledDocument]) -> dict[str, list[frozenset[str]]]:
    """The classifier's label ids per kind, one set per document (aligned with ``documents``)."""
    out: dict[str, list[frozenset[str]]] = {"themes": [], "policy_areas": [], "evidence_types": []}
    for doc in documents:
        result = classifier.classify(doc.chunk_texts, doc.vectors, doc.language)
        for kind in out:
            out[kind].append(frozenset(label.id for label in getattr(result, kind)))
    return out


def kind_examples(classifier: TaxonomyClassifier, documents: list[LabelledDocument], kind: str) -> KindExamples:
    """Training data of ``kind``: every document's label features, document vector and gold 0/1 per label."""
    labels = classifier.taxonomy.labels_of(kind)
    features = np.stack([d.evidence_of(classifier, kind).features for d in documents])
    doc_vectors = np.stack([d.evidence_of(classifier, kind).doc_vector for d in documents])
    gold = np.array([[int(label.id in d.gold.labels.get(kind, ())) for label in labels] for d in documents])
    return KindExamples(features=features, gold=gold, label_ids=[label.id for label in labels],
                        doc_keys=[d.gold.key for d in documents], doc_vectors=doc_vectors)


def _gold_kinds(documents: list[LabelledDocument]) -> list[str]:
    return [kind for kind in ("policy_areas", "themes", "evidence_types")
            if documents and all(kind in d.gold.labels for d in documents)]


def evaluate(classifier: TaxonomyClassifier, documents: list[LabelledDocument]) -> dict[str, KindMetrics]:
    """Metrics of the classifier as configured (zero-shot or the trained model) per gold kind."""
    predicted = predictions(classifier, documents)
    return {kind: score_kind([d.gold.labels[kind] for d in documents], predicted[kind],
                             [label.id for label in classifier.taxonomy.labels_of(kind)], intervals=True)
            for kind in _gold_kinds(documents)}


def facet_metrics(documents: list[LabelledDocument]) -> dict[str, KindMetrics]:
    """Metrics of the single-valued facets (``doc_type``, ``language``) over the documents whose
    gold row judges them (:func:`classify.evaluation.score_facet`; micro-F1 is the accuracy). These
    values come from extraction's rules and language identification, not from the classifier, so
    they are the same with or without a trained model. A document without a value counts as
    ``"none"``. Facets no gold row judges are left out."""
    out = {}
    for facet in FACET_COLUMNS:
        judged = [d for d in documents if facet in d.gold.facets]
        if judged:
            out[facet] = score_facet([d.gold.facets[facet] for d in judged],
                                     [d.facets.get(facet) or "none" for d in judged], intervals=True)
    return out


def trainable(classifier: TaxonomyClassifier, documents: list[LabelledDocument]) -> list[LabelledDocument]:
    """The documents the supervised model learns from: those the embedding model reads
    (:meth:`TaxonomyClassifier.model_reads`: detected in a model language, or a quarter of their
    words in one, as a bilingual English / French report called French; their features mean
    something). Until 2026-12-02 a bilingual document called French was labelled by the model but
    left out of its training.

    Raises:
        ValueError: fewer than 2 such documents (saying how many of ``documents`` are in other languages).
    """
    learnable = [d for d in documents if classifier.model_reads(d.chunk_texts, d.language)]
    if len(learnable) < 2:
        languages = sorted({d.language or "?" for d in documents if d not in learnable})
        raise ValueError(f"only {len(learnable)} of the {len(documents)} matched gold documents are in a language "
                         f"the embedding model reads (classification.model_languages: "
                         f"{', '.join(classifier.settings.model_languages)}); training needs at least 2"
                         + (f". The others ({', '.join(languages)}) are labelled from the taxonomy's "
                            "keywords_by_language" if languages else ""))
    return learnable


def cross_validate(classifier: TaxonomyClassifier, documents: list[LabelledDocument], folds: int = 5,
                   seed: int = 0) -> dict[str, KindMetrics]:
    """Metrics of the supervised model on documents it never saw: k-fold (by document) training,
    threshold calibration inside each training part, predictions on the held-out part, at most
    ``max_labels_of(kind)`` per document as the classifier assigns them. Documents in
    a language the model does not read are scored with their keyword-only labels (as the hub labels
    them whatever the method), so the figures cover every matched document."""
    out = {}
    learnable = trainable(classifier, documents)
    others = [d for d in documents if d not in learnable]
    for kind in _gold_kinds(documents):
        if kind not in TRAINABLE_KINDS:
            continue
        examples = kind_examples(classifier, learnable, kind)
        predicted = cross_validated_predictions(examples, folds, seed, classifier.settings.max_labels_of(kind))
        sets = [frozenset(i for i, p in zip(examples.label_ids, row) if p) for row in predicted]
        sets += [frozenset(label.id for label in getattr(classifier.classify(d.chunk_texts, d.vectors, d.language), kind))
                 for d in others]
        out[kind] = score_kind([d.gold.labels[kind] for d in learnable + others], sets, examples.label_ids,
                               intervals=True)
    return out


def train(classifier: TaxonomyClassifier, documents: list[LabelledDocument], folds: int = 5,
          seed: int = 0) -> TrainedModel:
    """Train every trainable kind that the gold labels on all ``documents`` (those in a language the
    embedding model reads, :func:`trainable`); the model's report holds the cross-validated metrics
    (never figures on the training set).

    Raises ValueError when the gold has no trainable kind or too few documents."""
    kinds = [k for k in _gold_kinds(documents) if k in TRAINABLE_KINDS]
    if not kinds:
        raise ValueError("the gold labels hold neither themes nor policy_areas for every matched document")
    learnable = trainable(classifier, documents)
    models, skipped = {}, {}
    for kind in kinds:
        examples = kind_examples(classifier, learnable, kind)
        if examples.gold.min() == examples.gold.max():
            skipped[kind] = (f"no {'positive' if examples.gold.max() == 0 else 'negative'} {kind} label among the "
                             f"{len(learnable)} gold documents in model_languages")
            log.warning("train-classifier: %s not trained: %s", kind, skipped[kind])
            continue
        models[kind] = train_kind(examples, folds, seed)
    if not models:
        raise ValueError("; ".join(skipped.values()))
    report = {kind: m.model_dump() for kind, m in cross_validate(classifier, documents, folds, seed).items()
              if kind in models}
    return TrainedModel(kinds=models, trained_on=len(learnable),
                        report={"cross_validated": report, "folds": folds, "not_trained": skipped})
