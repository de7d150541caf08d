"""Zero-shot scoring: label profiles plus keyword evidence, no training data needed.

Score of a label for a document = mean of the top-3 cosine similarities between the document's
chunks and the label's profiles (its description and example passages) plus a keyword bonus
``min(keyword_cap, keyword_weight * log1p(keyword hits per 10,000 words))``. Approach:
embedding-similarity zero-shot classification (Yin, Hay & Roth 2019, "Benchmarking zero-shot
text classification"; sentence embeddings from Reimers & Gurevych 2019). The decision rule
(threshold, relative margin, review margin) lives in :mod:`classify.classifier`.
"""

from __future__ import annotations

import numpy as np

from classify.features import FEATURES, DocumentEvidence
from config.settings import ClassificationSettings

_SIM = FEATURES.index("sim_top3")
_KW = FEATURES.index("kw_density")


def zero_shot_scores(evidence: DocumentEvidence, settings: ClassificationSettings) -> np.ndarray:
    """Zero-shot scores, shape (n_labels,), about 0..1.2 (see the module docstring)."""
    per_thousand = np.expm1(evidence.features[:, _KW])
    bonus = np.minimum(settings.keyword_cap, settings.keyword_weight * np.log1p(per_thousand * 10))
    return evidence.features[:, _SIM] + bonus
