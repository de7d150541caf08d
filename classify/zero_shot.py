"""Zero-shot scoring: label profiles plus keyword evidence, no training data needed.

Score of a label for a document = the document's similarity to the label plus a keyword bonus
``min(keyword_cap, keyword_weight * log1p(keyword hits per 10,000 words))``. The similarity is the
mean of the top-3 cosine similarities between the document's chunks and the label's profiles (its
description and example passages); for policy areas, which name the document's *main* subject, it is
blended with the similarity of the document's lead (its first chunk: title and opening):
``(1 - w) * top3 + w * lead`` with ``w`` = :data:`LEAD_WEIGHT` of the kind, so that a domain
discussed only in a passing section counts less than the one the document opens with. Approach:
embedding-similarity zero-shot classification (Yin, Hay & Roth 2019, "Benchmarking zero-shot
text classification"; sentence embeddings from Reimers & Gurevych 2019). The decision rule
(threshold, relative margin, review margin) lives in :mod:`classify.classifier`.

``LEAD_WEIGHT`` was chosen from {0, 0.3, 0.5, 0.7} on the developer gold labels, as the middle of
the plateau 0.3-0.5 (policy-area macro-F1 on 77 documents: 0.557 at 0, 0.584 at 0.3, 0.576 at 0.4,
0.585 at 0.5, 0.546 at 0.7; a small gain, and an optimistic one since it was chosen there); themes are about how
collaboration is done anywhere in a document, and weighting their lead lowered their F1, so they
keep ``w = 0``.
"""

from __future__ import annotations

import numpy as np

from classify.features import FEATURES, DocumentEvidence
from config.settings import ClassificationSettings

_SIM = FEATURES.index("sim_top3")
_KW = FEATURES.index("kw_density")
_LEAD = FEATURES.index("lead_sim")

LEAD_WEIGHT = {"policy_areas": 0.4}


def zero_shot_scores(evidence: DocumentEvidence, settings: ClassificationSettings,
                     lead_weight: float = 0.0) -> np.ndarray:
    """Zero-shot scores, shape (n_labels,), about 0..1.2 (see the module docstring).

    Args:
        lead_weight: ``w`` in ``(1 - w) * top3 + w * lead`` (0..1; 0 = top-3 chunks only).
    Raises:
        ValueError: ``lead_weight`` outside 0..1.
    """
    if not 0.0 <= lead_weight <= 1.0:
        raise ValueError(f"lead_weight must be within 0..1, got {lead_weight}")
    bonus = keyword_bonus(np.expm1(evidence.features[:, _KW]) * 10, settings)
    similarity = (1.0 - lead_weight) * evidence.features[:, _SIM] + lead_weight * evidence.features[:, _LEAD]
    return similarity + bonus


def keyword_bonus(hits_per_10k: np.ndarray, settings: ClassificationSettings) -> np.ndarray:
    """The zero-shot keyword bonus ``min(keyword_cap, keyword_weight * log1p(hits per 10,000 words))``,
    same shape as ``hits_per_10k``."""
    return np.minimum(settings.keyword_cap, settings.keyword_weight * np.log1p(hits_per_10k))


def keyword_only_scores(hits: np.ndarray, words: int, settings: ClassificationSettings) -> np.ndarray:
    """Scores (0..1, shape of ``hits``) of documents the embedding model does not read (see
    ``classification.model_languages``): the keyword bonus as a share of ``keyword_cap``.

    Args:
        hits: keyword hits per label in the document's language.
        words: the document's word count (>= 1).
    Raises:
        ValueError: ``words`` < 1.
    """
    if words < 1:
        raise ValueError(f"a document has at least one word, got {words}")
    if settings.keyword_cap <= 0:
        return np.zeros_like(hits, dtype=np.float32)
    return (keyword_bonus(hits * 10_000 / words, settings) / settings.keyword_cap).astype(np.float32)
