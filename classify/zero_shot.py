"""Zero-shot multi-label classifier: chunk embeddings against label profiles, plus keywords.

Score of a label for a document = mean of the top-3 cosine similarities between the
document's chunks and the label's profile texts (description, examples), plus a small
bonus for taxonomy keywords found in the text (log-scaled by hits per 10k words). A label is
assigned when the score reaches its kind's threshold; scores within ``review_margin`` above
the threshold are marked uncertain. The evidence kept is the best passages and the keywords.
Approach: embedding-similarity zero-shot classification (Yin et al. 2019, "Benchmarking
zero-shot text classification"; Reimers & Gurevych 2019 for the sentence embeddings).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from config.settings import ClassificationSettings
from config.taxonomy import Taxonomy, TaxonomyLabel
from core.models import LabelScore
from index.embedding import Embedder

TOP_K_CHUNKS = 3
KEYWORD_WEIGHT = 0.025
MAX_KEYWORD_BONUS = 0.1


@dataclass(frozen=True)
class Classification:
    """Labels assigned to one document."""

    themes: list[LabelScore]
    policy_areas: list[LabelScore]


def _keyword_pattern(keyword: str) -> re.Pattern:
    words = [re.escape(w) for w in re.split(r"\s+", keyword.strip().strip('"').lower()) if w]
    return re.compile(r"\b" + r"[\s-]+".join(words) + r"s?\b")


class ZeroShotClassifier:
    """Classifies documents from their chunk texts and embeddings (see module docstring)."""

    def __init__(self, taxonomy: Taxonomy, embedder: Embedder, settings: ClassificationSettings):
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.settings = settings

    @cached_property
    def _profiles(self) -> dict[str, tuple[list[TaxonomyLabel], np.ndarray, list[int]]]:
        """Per kind: labels, profile vectors (m, dim) and the label index of each vector."""
        out = {}
        for kind, labels in (("themes", self.taxonomy.themes), ("policy_areas", self.taxonomy.policy_areas)):
            texts, owners = [], []
            for i, label in enumerate(labels):
                for text in [f"{label.label}. {label.description}", *label.examples]:
                    texts.append(text)
                    owners.append(i)
            out[kind] = (labels, self.embedder.encode(texts), owners)
        return out

    @cached_property
    def _keywords(self) -> dict[str, list[tuple[str, re.Pattern]]]:
        return {label.id: [(k, _keyword_pattern(k)) for k in label.keywords if k.strip()]
                for label in (*self.taxonomy.themes, *self.taxonomy.policy_areas)}

    def classify(self, chunk_texts: list[str], chunk_vectors: np.ndarray) -> Classification:
        """Labels for a document given its chunks (texts and unit vectors of shape (n, dim))."""
        if len(chunk_texts) == 0:
            return Classification([], [])
        text = " ".join(chunk_texts).lower()
        words = max(1, len(text.split()))
        result = {}
        for kind, threshold in (("themes", self.settings.theme_threshold),
                                ("policy_areas", self.settings.policy_area_threshold)):
            labels, profile_vectors, owners = self._profiles[kind]
            sims = chunk_vectors @ profile_vectors.T  # (n_chunks, n_profiles)
            per_label = np.full((len(chunk_texts), len(labels)), -1.0, dtype=np.float32)
            for column, owner in enumerate(owners):
                per_label[:, owner] = np.maximum(per_label[:, owner], sims[:, column])
            k = min(TOP_K_CHUNKS, len(chunk_texts))
            top = np.sort(per_label, axis=0)[-k:, :]
            assigned = []
            for i, label in enumerate(labels):
                terms = [k for k, pattern in self._keywords[label.id] if pattern.search(text)]
                hits = sum(len(pattern.findall(text)) for _, pattern in self._keywords[label.id])
                bonus = min(MAX_KEYWORD_BONUS, KEYWORD_WEIGHT * math.log1p(hits * 10000 / words)) if hits else 0.0
                score = float(top[:, i].mean()) + bonus
                if score < threshold:
                    continue
                best = np.argsort(-per_label[:, i])[:2]
                assigned.append(LabelScore(
                    id=label.id, label=label.label, score=round(score, 4),
                    uncertain=score < threshold + self.settings.review_margin,
                    terms=terms[:10], passages=[chunk_texts[j][:300] for j in best],
                ))
            assigned.sort(key=lambda s: -s.score)
            result[kind] = assigned[: self.settings.max_labels]
        return Classification(themes=result["themes"], policy_areas=result["policy_areas"])
