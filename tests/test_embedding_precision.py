"""``embedding.precision``: the torch model in bfloat16 gives float32 unit vectors of the same shape,
close to the float32 model's (the real all-MiniLM-L6-v2 from its package, offline)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from config.settings import EmbeddingSettings
from index.embedding import Embedder, load_model, resolve_model_path

TEXTS = [
    "Joint commissioning of community mental health services by the council and the NHS.",
    "A randomised controlled trial of a family support programme in three local authorities.",
    "How the partnership board shared data on hospital discharge delays across agencies.",
    "Homelessness prevention: what worked in the first year of the pooled budget.",
]


def test_bfloat16_vectors_are_float32_unit_length_and_close_to_float32():
    full = Embedder(EmbeddingSettings()).encode(TEXTS)
    half = Embedder(EmbeddingSettings(precision="bfloat16")).encode(TEXTS)
    assert half.dtype == np.float32 and half.shape == full.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-3)
    cosines = np.sum(full * half, axis=1)
    assert cosines.min() >= 0.99, cosines
    # the two precisions are two models: the bfloat16 one really is bfloat16
    model = load_model(resolve_model_path("all-MiniLM-L6-v2"), "cpu", "bfloat16")[0]
    assert str(next(model.parameters()).dtype) == "torch.bfloat16"


def test_unknown_precision_is_refused():
    with pytest.raises(ValidationError, match="precision"):
        EmbeddingSettings(precision="float16")
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        load_model(resolve_model_path("all-MiniLM-L6-v2"), "cpu", "int4")
