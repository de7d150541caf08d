"""A classifier trained on labelled documents, on top of the zero-shot evidence features.

Two parts, whose probabilities are averaged (weight :data:`DOC_BLEND` on the second):

1. *pair model*: one logistic regression per label kind learns, from (document, label) pairs, when a label's
evidence (:data:`classify.features.FEATURES`: profile similarity, keyword density, and both
relative to the document's best label) means the label applies. Because the features are the
same for every label, a label with one or two labelled examples still benefits from all the
others, and edits to a label's description or keywords change its features without retraining.
Thresholds are calibrated on out-of-fold probabilities (document-grouped k-fold inside the
training data): one per kind maximising macro-F1, and one per label for labels with enough
positive examples, shrunk halfway towards the kind's threshold. It reads every feature, the lead's
(``lead_sim``, ``lead_sim_gap``, ``lead_rank``: how close the document's opening is to the label, and
to the label it is closest to) included.
2. *document model*: for each label with at least :data:`DOC_MIN_POSITIVES` positive training
   documents, a logistic regression (one-vs-rest, class-balanced) on the document's vector
   (:func:`classify.features.document_vector`: mean of all chunk embeddings and of the lead
   chunks). It learns what documents of a frequent label look like as a whole, which the
   label-agnostic pair model cannot; labels with fewer examples (and labels added to the taxonomy
   after training) keep the pair model's probability alone.

Thresholds are calibrated on the blended out-of-fold probabilities. On the 77 developer documents
(5-fold cross-validation, 3 seeds, thresholds chosen inside the training folds) the document model
raised policy-area micro-F1 from about 0.70 to 0.74 and theme micro-F1 from 0.47 to 0.49; macro-F1
moved less (0.62 -> 0.63, 0.38 -> 0.40), because it cannot help the rare labels that decide it.
``DOC_BLEND`` and ``DOC_C`` were picked from a small grid ({0.3, 0.5, 0.7} x {1, 10}) on those
cross-validated figures. The lead features joined the pair model later (format 3): on the 77
documents, 5-fold cross-validation over seeds 5-14 (not those the change was found on, 0-4), deciding
as the classifier does (at most 4 policy areas, 6 themes), policy-area macro-F1 0.686 -> 0.713 and
theme macro-F1 0.382 -> 0.401 (micro 0.773 -> 0.788, 0.485 -> 0.496). Tried on the same data and
not kept: a TF-IDF logistic regression blended in (policy-area macro 0.71 -> 0.65-0.69), gradient
boosting or random forests for the pair model (within noise of the logistic regression, 0.75 on
seeds 0-2), a k-nearest-documents label share as a pair feature (policy areas within noise, theme
macro-F1 0.39 -> 0.36-0.37).

scikit-learn's ``LogisticRegression`` (class-balanced) and ``GroupKFold``; models are stored with
joblib.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from classify.features import FEATURES

FORMAT_VERSION = 3
MIN_LABEL_SUPPORT = 5  # positives needed before a label gets a threshold of its own
DOC_MIN_POSITIVES = 3  # positive training documents needed before a label gets a document model
DOC_BLEND = 0.5        # weight of the document model in the blended probability
DOC_C = 1.0            # inverse regularisation strength of the document models
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.025), 3)


class ModelError(RuntimeError):
    """The trained model file is missing, unreadable or from another version."""


@dataclass
class KindExamples:
    """Training data of one kind: ``features`` (n_docs, n_labels, len(FEATURES)), ``gold``
    (n_docs, n_labels) 0/1, the label ids, the document keys (for grouping) and optionally the
    document vectors (n_docs, 2 * dim) for the document model (None: pair model only)."""

    features: np.ndarray
    gold: np.ndarray
    label_ids: list[str]
    doc_keys: list[str]
    doc_vectors: np.ndarray | None = None

    def subset(self, rows) -> "KindExamples":
        """The examples of the documents at positions ``rows``."""
        rows = np.asarray(rows)
        return KindExamples(self.features[rows], self.gold[rows], self.label_ids,
                            [self.doc_keys[i] for i in rows],
                            None if self.doc_vectors is None else self.doc_vectors[rows])


@dataclass
class _Fitted:
    """The two fitted parts, before threshold calibration."""

    pipeline: Pipeline
    doc_models: dict[str, LogisticRegression]

    def probabilities(self, features: np.ndarray, doc_vectors: np.ndarray | None,
                      label_ids: list[str]) -> np.ndarray:
        """Blended probabilities (n_docs, n_labels) for features (n_docs, n_labels, len(FEATURES))."""
        flat = features.reshape(-1, len(FEATURES))
        pair = self.pipeline.predict_proba(flat)[:, 1].reshape(features.shape[0], -1)
        if doc_vectors is None or not self.doc_models:
            return pair
        out = pair.copy()
        for j, label_id in enumerate(label_ids):
            model = self.doc_models.get(label_id)
            if model is not None:
                out[:, j] = (1 - DOC_BLEND) * pair[:, j] + DOC_BLEND * model.predict_proba(doc_vectors)[:, 1]
        return out


@dataclass
class KindModel:
    """A fitted model of one kind (pair model, document models per label id) with its calibrated
    thresholds."""

    pipeline: Pipeline
    threshold: float
    label_thresholds: dict[str, float] = field(default_factory=dict)
    doc_models: dict[str, LogisticRegression] = field(default_factory=dict)
    label_ids: list[str] = field(default_factory=list)

    def probabilities(self, features: np.ndarray, doc_vector: np.ndarray | None = None,
                      label_ids: list[str] | None = None) -> np.ndarray:
        """P(label applies) for one document.

        Args:
            features: (n_labels, len(FEATURES)), one row per label.
            doc_vector: the document's :func:`classify.features.document_vector` (2 * dim,); without
                it only the pair model speaks.
            label_ids: the ids of the rows (default: the labels the model was trained on).
        Returns:
            shape (n_labels,), 0..1.
        Raises:
            ValueError: ``label_ids`` (given or default) does not match the number of rows.
        """
        ids = list(label_ids) if label_ids is not None else self.label_ids
        if doc_vector is not None and self.doc_models and len(ids) != features.shape[0]:
            raise ValueError(f"{features.shape[0]} feature rows but {len(ids)} label ids")
        fitted = _Fitted(self.pipeline, self.doc_models)
        return fitted.probabilities(features[None], None if doc_vector is None else doc_vector[None], ids)[0]

    def threshold_of(self, label_id: str) -> float:
        """The label's own threshold, else the kind's."""
        return self.label_thresholds.get(label_id, self.threshold)


def _new_pipeline() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced"))


def _fit(examples: KindExamples) -> _Fitted:
    """Fit the pair model on every (document, label) pair and a document model per frequent label."""
    features, gold = examples.features, examples.gold
    if features.shape[-1] != len(FEATURES):
        raise ValueError(f"features have {features.shape[-1]} columns, expected {len(FEATURES)} ({', '.join(FEATURES)})")
    pipeline = _new_pipeline()
    pipeline.fit(features.reshape(-1, len(FEATURES)), gold.reshape(-1))
    doc_models = {}
    if examples.doc_vectors is not None:
        for j, label_id in enumerate(examples.label_ids):
            positives = int(gold[:, j].sum())
            if DOC_MIN_POSITIVES <= positives < len(gold):
                doc_models[label_id] = LogisticRegression(C=DOC_C, max_iter=5000, class_weight="balanced").fit(
                    examples.doc_vectors, gold[:, j])
    return _Fitted(pipeline, doc_models)


def macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    """Mean F1 over labels (columns) with at least one gold positive; 0 when there are none."""
    scores = []
    for j in range(gold.shape[1]):
        tp = int(((gold[:, j] == 1) & (predicted[:, j] == 1)).sum())
        fp = int(((gold[:, j] == 0) & (predicted[:, j] == 1)).sum())
        fn = int(((gold[:, j] == 1) & (predicted[:, j] == 0)).sum())
        if tp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def folds_used(n_docs: int, folds: int) -> int:
    """The folds a k-fold split of ``n_docs`` documents really has when ``folds`` are asked for:
    at most one per document, at least 2."""
    return max(2, min(folds, n_docs))


def out_of_fold_probabilities(examples: KindExamples, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Probabilities (n_docs, n_labels) where each document's come from a model that never saw it.

    Raises ValueError with fewer than 2 documents or no positive / no negative pair."""
    n_docs = examples.features.shape[0]
    if n_docs < 2 or examples.gold.min() == examples.gold.max():
        raise ValueError("training needs at least 2 labelled documents with both positive and negative labels")
    probabilities = np.zeros(examples.gold.shape, dtype=np.float64)
    splitter = GroupKFold(n_splits=folds_used(n_docs, folds), shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(n_docs), groups=np.arange(n_docs)):
        if examples.gold[train].min() == examples.gold[train].max():
            probabilities[test] = examples.gold[train].mean()
            continue
        held_out = examples.subset(test)
        probabilities[test] = _fit(examples.subset(train)).probabilities(
            held_out.features, held_out.doc_vectors, examples.label_ids)
    return probabilities


def best_threshold(gold: np.ndarray, probabilities: np.ndarray) -> float:
    """The grid threshold with the best macro-F1; among equally good ones the median (the middle of
    the plateau generalises better than its edge)."""
    scores = np.array([macro_f1(gold, (probabilities >= t).astype(int)) for t in THRESHOLD_GRID])
    best = THRESHOLD_GRID[np.isclose(scores, scores.max())]
    return float(best[len(best) // 2])


def calibrate(gold: np.ndarray, probabilities: np.ndarray, label_ids: list[str]) -> tuple[float, dict[str, float]]:
    """The kind threshold maximising macro-F1 (:func:`best_threshold`) and per-label thresholds for
    labels with >= MIN_LABEL_SUPPORT positives, shrunk halfway to the kind's."""
    kind_threshold = best_threshold(gold, probabilities)
    label_thresholds = {}
    for j, label_id in enumerate(label_ids):
        if gold[:, j].sum() < MIN_LABEL_SUPPORT:
            continue
        best = best_threshold(gold[:, [j]], probabilities[:, [j]])
        label_thresholds[label_id] = round(float((best + kind_threshold) / 2), 4)
    return float(kind_threshold), label_thresholds


def train_kind(examples: KindExamples, folds: int = 5, seed: int = 0) -> KindModel:
    """Fit on all of ``examples`` with thresholds calibrated on inner out-of-fold probabilities."""
    probabilities = out_of_fold_probabilities(examples, folds, seed)
    threshold, label_thresholds = calibrate(examples.gold, probabilities, examples.label_ids)
    fitted = _fit(examples)
    return KindModel(pipeline=fitted.pipeline, threshold=threshold, label_thresholds=label_thresholds,
                     doc_models=fitted.doc_models, label_ids=list(examples.label_ids))


def assigned_labels(probabilities: np.ndarray, thresholds: np.ndarray, max_labels: int | None = None) -> np.ndarray:
    """Positions of the labels a document gets: those whose probability reaches their threshold,
    most probable first (ties: lower position first), at most ``max_labels`` (None: all).

    Args:
        probabilities, thresholds: shape (n_labels,).
    Returns:
        int array of positions, shape (k,), k <= n_labels.
    Raises:
        ValueError: ``max_labels`` < 1.
    """
    if max_labels is not None and max_labels < 1:
        raise ValueError(f"max_labels must be at least 1 (or None for no limit), got {max_labels}")
    above = np.flatnonzero(probabilities >= thresholds)
    return above[np.argsort(-probabilities[above], kind="stable")][:max_labels]


def cross_validated_predictions(examples: KindExamples, folds: int = 5, seed: int = 0,
                                max_labels: int | None = None) -> np.ndarray:
    """0/1 predictions (n_docs, n_labels) of models trained (and calibrated) without each fold.

    The honest estimate of how :func:`train_kind` does on documents it has never seen. With
    ``max_labels`` a document keeps at most that many of the labels reaching their thresholds, the
    most probable ones, as the classifier does (``classification.max_labels``); None keeps all.

    Raises ValueError for ``max_labels`` < 1."""
    if max_labels is not None and max_labels < 1:
        raise ValueError(f"max_labels must be at least 1 (or None for no limit), got {max_labels}")
    n_docs = examples.features.shape[0]
    predicted = np.zeros(examples.gold.shape, dtype=int)
    splitter = GroupKFold(n_splits=folds_used(n_docs, folds), shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(n_docs), groups=np.arange(n_docs)):
        try:
            model = train_kind(examples.subset(train), folds, seed)
        except ValueError:
            continue  # a fold without positives predicts nothing
        for row in test:
            doc_vector = None if examples.doc_vectors is None else examples.doc_vectors[row]
            probs = model.probabilities(examples.features[row], doc_vector, examples.label_ids)
            thresholds = np.array([model.threshold_of(label_id) for label_id in examples.label_ids])
            predicted[row, assigned_labels(probs, thresholds, max_labels)] = 1
    return predicted


@dataclass
class TrainedModel:
    """Per-kind models plus what they were trained on (for ``evidence-hub eval``/``status``)."""

    kinds: dict[str, KindModel]
    trained_on: int
    features: tuple[str, ...] = FEATURES
    report: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def save(self, path: Path) -> None:
        """Write the model with joblib (creating the folder)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: Path) -> "TrainedModel":
        """Read a model written by :meth:`save`.

        Raises:
            ModelError: missing file, unreadable file, or a model built for other features.
        """
        if not path.exists():
            raise ModelError(f"no trained classifier at {path}; run `evidence-hub train-classifier LABELS.csv` "
                             "or set classification.method to zero_shot")
        try:
            model = joblib.load(path)
        except Exception as exc:  # joblib/pickle raise many types for a damaged file
            raise ModelError(f"cannot read the trained classifier {path}: {exc}; retrain it") from exc
        if not isinstance(model, cls) or model.format_version != FORMAT_VERSION or tuple(model.features) != FEATURES:
            raise ModelError(f"{path} was written by another version of the hub; retrain it with "
                             "`evidence-hub train-classifier LABELS.csv`")
        return model
