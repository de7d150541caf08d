"""The ONNX and OpenVINO embedding backends (index/onnx_embedding.py) against the torch one: the
real all-MiniLM-L6-v2 model, a real export into a temporary cache, compiled by the real ONNX Runtime
and OpenVINO. No timing asserts (speed lives in benchmarks/bench_embed.py)."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

from config.settings import EmbeddingSettings
from index.embedding import Embedder, load_model, resolve_model_path
from index.onnx_embedding import (FP32_FILE, INT8_FILE, OnnxEncoder, OnnxUnavailable, cache_folder,
                                  source_fingerprint)

SENTENCES = [
    "The council and the local NHS trust pooled their budgets to pay for a joint hospital discharge team.",
    "Teachers, youth workers and the police met every month to agree support for pupils at risk of exclusion.",
    "An evaluation found that shared case records cut the time families waited for a housing assessment.",
    "The charity trained volunteers to run debt advice sessions in community centres across the region.",
    "Researchers compared outcomes in areas with and without an integrated mental health service.",
    "Funding was short-term, so several partnerships ended before their benefits could be measured.",
]

QUERIES = ["pooled budgets for hospital discharge", "preventing school exclusions", "debt advice volunteers"]
PASSAGES = [
    "Health and social care commissioners created a pooled budget so that patients could leave hospital "
    "sooner with a package of care already arranged.",
    "Schools worked with youth services on early help for pupils whose behaviour put them at risk of being "
    "excluded; exclusions fell in the second year.",
    "Volunteers from the local credit union gave free money and debt advice at weekly drop-in sessions.",
    "A survey of parks found that most visitors walked there and stayed for under an hour.",
    "The railway timetable changed in May, adding two trains an hour between the towns.",
    "Library opening hours were extended on weekday evenings after a consultation with residents.",
]

LONG_TEXT = " ".join(["Local authorities shared data on housing, health and social care to plan services together."]
                     * 40)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    """One temporary cache for the session: the export is built once (tens of seconds)."""
    return tmp_path_factory.mktemp("onnx-cache")


BACKENDS = {
    "onnx_fp32": {"backend": "onnx", "onnx_quantize": "none"},
    "onnx_int8": {"backend": "onnx", "onnx_quantize": "int8"},
    "openvino_bf16": {"backend": "openvino", "precision": "bfloat16"},
    "openvino_fp32": {"backend": "openvino", "precision": "float32"},
}
"""Fixture name -> embedding settings; every one shares the session's export cache."""


def _backend_fixture(name: str):
    @pytest.fixture(scope="session", name=name)
    def embedder_of(onnx_cache) -> Embedder:
        return Embedder(EmbeddingSettings(onnx_cache_dir=onnx_cache, **BACKENDS[name]))
    return embedder_of


onnx_fp32, onnx_int8, openvino_bf16, openvino_fp32 = (_backend_fixture(name) for name in BACKENDS)


@pytest.mark.parametrize("which", ["onnx_fp32", "onnx_int8", "openvino_bf16"])
def test_shape_dtype_and_unit_length(which, request, embedder):
    onnx = request.getfixturevalue(which)
    vectors = onnx.encode(SENTENCES + [LONG_TEXT])
    assert vectors.shape == (len(SENTENCES) + 1, embedder.dimension) == (7, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    empty = onnx.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert onnx.dimension == embedder.dimension


def test_fp32_reproduces_torch(onnx_fp32, embedder):
    texts = SENTENCES + QUERIES + [LONG_TEXT]
    cosine = np.sum(onnx_fp32.encode(texts) * embedder.encode(texts), axis=1)
    assert cosine.min() >= 0.9999, cosine


def test_int8_close_to_torch(onnx_int8, embedder):
    cosine = np.sum(onnx_int8.encode(SENTENCES) * embedder.encode(SENTENCES), axis=1)
    assert cosine.min() >= 0.99, cosine
    assert onnx_int8.onnx.path.name == INT8_FILE


def test_truncation_follows_max_seq_length(onnx_int8, embedder):
    """Beyond max_seq_length (256 word pieces) text is cut, as sentence-transformers does: adding a
    tail past the limit changes nothing; and the vector of a long text matches torch's."""
    assert embedder.model.max_seq_length == 256
    longer = LONG_TEXT + " Completely different closing words about railway timetables and parks."
    a, b = onnx_int8.encode([LONG_TEXT, longer])
    assert float(a @ b) > 0.99999
    assert float(a @ embedder.encode([LONG_TEXT])[0]) >= 0.99


def test_openvino_close_to_torch(openvino_bf16, openvino_fp32, embedder):
    """The OpenVINO-compiled export: float32 reproduces torch; bfloat16 matrix products stay within
    cosine 0.998 (measured about 0.99997 on real passages). Both come from the one cached export."""
    texts = SENTENCES + QUERIES + [LONG_TEXT]
    reference = embedder.encode(texts)
    assert np.sum(openvino_fp32.encode(texts) * reference, axis=1).min() >= 0.9999
    assert np.sum(openvino_bf16.encode(texts) * reference, axis=1).min() >= 0.998
    bf16, fp32 = openvino_bf16.onnx, openvino_fp32.onnx
    assert (bf16.runtime, bf16.precision, fp32.precision) == ("openvino", "bfloat16", "float32")
    assert bf16.path.name == FP32_FILE and bf16.folder == fp32.folder  # no second export
    assert bf16.probe_cosine >= 0.998 and fp32.probe_cosine >= 0.9999


@pytest.mark.parametrize("which", ["onnx_fp32", "onnx_int8", "openvino_bf16"])
def test_batch_order_and_padding(which, request):
    """Texts are sorted by length into batches and padded. float32: a vector does not depend on its
    batch. int8: activations are quantised per batch (dynamic quantisation), so batch mates move a
    vector a little -- but it stays within cosine 0.99 of the same text embedded alone. bfloat16:
    padding changes the order of the sums, so a vector moves in its last bits only."""
    onnx = request.getfixturevalue(which)
    alone = np.vstack([onnx.encode([text]) for text in SENTENCES[:3]])
    together = onnx.encode(list(reversed(SENTENCES[:3])) + [LONG_TEXT])[:3][::-1]
    if which == "onnx_fp32":
        np.testing.assert_allclose(alone, together, atol=1e-4)
    elif which == "openvino_bf16":
        assert np.sum(alone * together, axis=1).min() >= 0.999
    else:
        assert np.sum(alone * together, axis=1).min() >= 0.99


@pytest.mark.parametrize("which", ["onnx_fp32", "onnx_int8", "openvino_bf16"])
def test_ranking_agrees_with_torch(which, request, embedder):
    onnx = request.getfixturevalue(which)
    torch_scores = embedder.encode(QUERIES) @ embedder.encode(PASSAGES).T
    onnx_scores = onnx.encode(QUERIES) @ onnx.encode(PASSAGES).T
    for q, query in enumerate(QUERIES):
        assert int(np.argmax(onnx_scores[q])) == int(np.argmax(torch_scores[q])) == q, query
        assert set(np.argsort(-onnx_scores[q])[:3]) == set(np.argsort(-torch_scores[q])[:3]), query
    np.testing.assert_allclose(onnx_scores, torch_scores, atol=0.03)


def test_cache_is_reused(onnx_int8, onnx_cache):
    first = onnx_int8.onnx
    files = {name: (first.folder / name).stat().st_mtime_ns for name in (FP32_FILE, INT8_FILE)}
    assert first.folder.parent == onnx_cache and first.folder.name.startswith("all-minilm-l6-v2-")
    st = load_model(resolve_model_path("all-MiniLM-L6-v2"), "cpu")[0]
    again = OnnxEncoder(st, resolve_model_path("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2", onnx_cache, "int8")
    assert again.built_now is False
    assert again.folder == first.folder
    assert {name: (again.folder / name).stat().st_mtime_ns for name in files} == files
    assert [p.name for p in onnx_cache.iterdir() if p.is_dir()] == [first.folder.name]
    np.testing.assert_array_equal(again.encode(SENTENCES[:2]), first.encode(SENTENCES[:2]))
    assert again.manifest["probe_cosine"]["none"] >= 0.9999 and again.manifest["probe_cosine"]["int8"] >= 0.98


def test_changed_model_gets_another_cache_folder(tmp_path):
    """The cache key covers the model's files: an edited copy of the model needs a new export."""
    source = resolve_model_path("all-MiniLM-L6-v2")
    copy = tmp_path / "model"
    shutil.copytree(source, copy, copy_function=os.symlink)  # links: no 90 MB copy
    assert source_fingerprint(copy) == source_fingerprint(source)
    readme = copy / "README.md"
    text = readme.read_text(encoding="utf-8")
    readme.unlink()
    readme.write_text(text + "\nedited\n", encoding="utf-8")
    changed = source_fingerprint(copy)
    assert changed != source_fingerprint(source)
    assert cache_folder(tmp_path, "all-MiniLM-L6-v2", changed) != cache_folder(tmp_path, "all-MiniLM-L6-v2",
                                                                             source_fingerprint(source))


def test_clear_error_when_the_export_cannot_be_built(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    embedder = Embedder(EmbeddingSettings(backend="onnx", onnx_cache_dir=blocker / "onnx"))
    with pytest.raises(OnnxUnavailable) as caught:
        embedder.encode(["some text"])
    message = str(caught.value)
    assert "could not build or load the ONNX export" in message  # what happened
    assert "onnx_cache_dir" in message and "embedding.backend: torch" in message  # what to do


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_clear_error_for_a_device_other_than_cpu(backend):
    embedder = Embedder(EmbeddingSettings(backend=backend, device="cuda"))
    with pytest.raises(OnnxUnavailable, match="runs on the CPU only.*embedding.device: cpu"):
        embedder.encode(["some text"])


def test_clear_error_without_the_openvino_package(tmp_path, monkeypatch):
    """A machine without the openvino package gets what to install (or how to go back to torch)."""
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError, as when absent
    st = load_model(resolve_model_path("all-MiniLM-L6-v2"), "cpu")[0]
    with pytest.raises(OnnxUnavailable, match=r"needs the 'openvino' package \(pip install openvino\)"
                                              r".*embedding.backend: torch"):
        OnnxEncoder(st, resolve_model_path("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2", tmp_path, "none",
                    runtime="openvino", precision="bfloat16")


def test_openvino_arguments_are_checked(tmp_path):
    st = load_model(resolve_model_path("all-MiniLM-L6-v2"), "cpu")[0]
    path = resolve_model_path("all-MiniLM-L6-v2")
    with pytest.raises(ValueError, match="float32 export: quantize must be 'none'"):
        OnnxEncoder(st, path, "all-MiniLM-L6-v2", tmp_path, "int8", runtime="openvino")
    with pytest.raises(ValueError, match="runtime must be one of onnxruntime, openvino"):
        OnnxEncoder(st, path, "all-MiniLM-L6-v2", tmp_path, "none", runtime="tensorrt")
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        OnnxEncoder(st, path, "all-MiniLM-L6-v2", tmp_path, "none", runtime="openvino", precision="int4")


def test_settings(settings, monkeypatch):
    from config import ConfigError, load_settings

    assert settings.embedding.backend == "torch"  # the default stays torch
    assert settings.embedding.onnx_quantize == "int8"
    assert settings.embedding.onnx_cache_dir == settings.home / "models" / "onnx"
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__BACKEND", "onnx")
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__ONNX_QUANTIZE", "none")
    loaded = load_settings()
    assert (loaded.embedding.backend, loaded.embedding.onnx_quantize) == ("onnx", "none")
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__BACKEND", "openvino")
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__PRECISION", "bfloat16")
    loaded = load_settings()
    assert (loaded.embedding.backend, loaded.embedding.precision) == ("openvino", "bfloat16")
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match="backend"):
        load_settings()
