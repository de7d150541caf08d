"""A classifier trained on labelled documents, on top of the zero-shot evidence features.

One logistic regression per label kind learns, from (document, label) pairs, when a label's
evidence (:data:`classify.features.FEATURES`: profile similarity, keyword density, and both
relative to the document's best label) means the label applies. Because the features are the
same for every label, a label with one or two labelled examples still benefits from all the
others, and edits to a label's description or keywords change its features without retraining.
Thresholds are calibrated on out-of-fold probabilities (document-grouped k-fold inside the
training data): one per kind maximising macro-F1, and one per label for labels with enough
positive examples, shrunk halfway towards the kind's threshold.

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

FORMAT_VERSION = 1
MIN_LABEL_SUPPORT = 5  # positives needed before a label gets a threshold of its own
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.025), 3)


class ModelError(RuntimeError):
    """The trained model file is missing, unreadable or from another version."""


@dataclass
class KindExamples:
    """Training data of one kind: ``features`` (n_docs, n_labels, n_features), ``gold``
    (n_docs, n_labels) 0/1, the label ids and the document keys (for grouping)."""

    features: np.ndarray
    gold: np.ndarray
    label_ids: list[str]
    doc_keys: list[str]


@dataclass
class KindModel:
    """A fitted model of one kind with its calibrated thresholds."""

    pipeline: Pipeline
    threshold: float
    label_thresholds: dict[str, float] = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(label applies) for each row of ``features`` (n_labels, n_features) -> (n_labels,)."""
        return self.pipeline.predict_proba(features)[:, 1]

    def threshold_of(self, label_id: str) -> float:
        """The label's own threshold, else the kind's."""
        return self.label_thresholds.get(label_id, self.threshold)


def _new_pipeline() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced"))


def _fit(features: np.ndarray, gold: np.ndarray) -> Pipeline:
    pipeline = _new_pipeline()
    pipeline.fit(features.reshape(-1, features.shape[-1]), gold.reshape(-1))
    return pipeline


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


def _folds(n_docs: int, folds: int) -> int:
    return max(2, min(folds, n_docs))


def out_of_fold_probabilities(examples: KindExamples, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Probabilities (n_docs, n_labels) where each document's come from a model that never saw it.

    Raises ValueError with fewer than 2 documents or no positive / no negative pair."""
    n_docs = examples.features.shape[0]
    if n_docs < 2 or examples.gold.min() == examples.gold.max():
        raise ValueError("training needs at least 2 labelled documents with both positive and negative labels")
    probabilities = np.zeros(examples.gold.shape, dtype=np.float64)
    splitter = GroupKFold(n_splits=_folds(n_docs, folds), shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(n_docs), groups=np.arange(n_docs)):
        if examples.gold[train].min() == examples.gold[train].max():
            probabilities[test] = examples.gold[train].mean()
            continue
        pipeline = _fit(examples.features[train], examples.gold[train])
        flat = examples.features[test].reshape(-1, examples.features.shape[-1])
        probabilities[test] = pipeline.predict_proba(flat)[:, 1].reshape(len(test), -1)
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
    return KindModel(pipeline=_fit(examples.features, examples.gold), threshold=threshold,
                     label_thresholds=label_thresholds)


def cross_validated_predictions(examples: KindExamples, folds: int = 5, seed: int = 0) -> np.ndarray:
    """0/1 predictions (n_docs, n_labels) of models trained (and calibrated) without each fold.

    The honest estimate of how :func:`train_kind` does on documents it has never seen."""
    n_docs = examples.features.shape[0]
    predicted = np.zeros(examples.gold.shape, dtype=int)
    splitter = GroupKFold(n_splits=_folds(n_docs, folds), shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(n_docs), groups=np.arange(n_docs)):
        subset = KindExamples(examples.features[train], examples.gold[train], examples.label_ids,
                              [examples.doc_keys[i] for i in train])
        try:
            model = train_kind(subset, folds, seed)
        except ValueError:
            continue  # a fold without positives predicts nothing
        for row in test:
            probs = model.probabilities(examples.features[row])
            predicted[row] = [int(p >= model.threshold_of(label_id)) for p, label_id in zip(probs, examples.label_ids)]
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
