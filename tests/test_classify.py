"""The zero-shot classifier on the demo's own texts, with the real model and taxonomy."""

from __future__ import annotations

import pytest

from classify.zero_shot import ZeroShotClassifier
from config.settings import CONFIG_DIR, ClassificationSettings
from config.taxonomy import load_taxonomy
from demo.content import get
from index.chunking import chunk_pages
from core.models import Page


@pytest.fixture(scope="module")
def classifier(embedder):
    return ZeroShotClassifier(load_taxonomy(CONFIG_DIR / "taxonomy.yaml"), embedder, ClassificationSettings())


def _classify(classifier, text):
    chunks = chunk_pages([Page(number=1, text=text)], max_words=180, overlap_words=30)
    texts = [c.text for c in chunks]
    return classifier.classify(texts, classifier.embedder.encode(texts))


def test_data_sharing_post_gets_data_theme_with_evidence(classifier):
    post = get("harrowfield-council-nhs-data-sharing")
    result = _classify(classifier, " ".join(text for _, text in post.sections))
    themes = {label.id: label for label in result.themes}
    assert "T9" in themes
    assert themes["T9"].passages and themes["T9"].terms
    assert all(0 < label.score <= 1.2 for label in result.themes + result.policy_areas)


def test_off_topic_text_gets_no_labels(classifier):
    text = ("The new graphics card renders games at four thousand pixels. Overclocking the memory gives "
            "another ten frames per second, and the cooler stays quiet under load. ") * 5
    result = _classify(classifier, text)
    assert result.policy_areas == [] and result.themes == []


def test_empty_document_gets_no_labels(classifier):
    import numpy as np

    result = classifier.classify([], np.zeros((0, 384), np.float32))
    assert result.themes == [] and result.policy_areas == []
