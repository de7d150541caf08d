"""Which embedding model wrote an index: the model folder's digest, and the CLI's clear error when
the configured model is not the one whose vectors the index holds."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from typer.testing import CliRunner

from cli.main import app
from config import load_settings
from flows.context import HubContext
from index.embedding import model_folder_digest, resolve_model_path


def _linked_copy(tmp_path):
    """The packaged model as a folder of links (no 90 MB copy)."""
    source = resolve_model_path("all-MiniLM-L6-v2")
    copy = tmp_path / "model"
    shutil.copytree(source, copy, copy_function=os.symlink)
    return source, copy


def _rewrite(path, text):
    path.unlink()  # a link: replace it, never write through it into the installed package
    path.write_text(text, encoding="utf-8")


def test_the_digest_follows_what_makes_the_vectors_and_nothing_else(tmp_path):
    source, copy = _linked_copy(tmp_path)
    assert model_folder_digest(copy) == model_folder_digest(source)
    _rewrite(copy / "README.md", "another model card\n")
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_bytes(b"an export is not the model")
    assert model_folder_digest(copy) == model_folder_digest(source)
    config = copy / "config_sentence_transformers.json"
    settings = json.loads(config.read_text(encoding="utf-8"))
    _rewrite(config, json.dumps(settings | {"prompts": {"query": "query: "}}))
    assert model_folder_digest(copy) != model_folder_digest(source)


def test_searching_an_index_with_another_model_is_a_clear_error(tmp_path, monkeypatch):
    _, copy = _linked_copy(tmp_path)
    _rewrite(copy / "config.json", (copy / "config.json").read_text(encoding="utf-8").replace("{", '{"note": 1,', 1))
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "hub"))
    ctx = HubContext(load_settings())
    assert ctx.index.count() == 0  # a new index records the configured model
    ctx.close()
    assert CliRunner().invoke(app, ["search", "family hubs"]).exit_code == 0
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__MODEL", str(copy))
    result = CliRunner().invoke(app, ["search", "family hubs"])
    assert result.exit_code == 2
    assert "holds vectors of the embedding model 'all-MiniLM-L6-v2'" in result.stderr
    assert "Traceback" not in result.output
    served = CliRunner().invoke(app, ["serve", "--port", "0"])  # refused before the server starts
    assert served.exit_code == 2 and "holds vectors of the embedding model" in served.stderr
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__MODEL", str(tmp_path / "nowhere"))
    missing = CliRunner().invoke(app, ["search", "family hubs"])
    assert missing.exit_code == 2 and "nor a local model folder" in missing.stderr


def test_a_model_with_query_and_document_prompts_gets_them_before_each_text(tmp_path, embedder):
    """e5-style models want "query: " / "passage: " before their inputs; the hub passes the
    model's own prompts (config_sentence_transformers.json) for queries and for passages."""
    from config.settings import EmbeddingSettings
    from index.embedding import Embedder

    _, copy = _linked_copy(tmp_path)
    config = copy / "config_sentence_transformers.json"
    settings = json.loads(config.read_text(encoding="utf-8"))
    _rewrite(config, json.dumps(settings | {"prompts": {"query": "query: ", "document": "passage: "}}))
    prompted = Embedder(EmbeddingSettings(model=str(copy)))
    assert prompted.prompt("query") == "query: " and prompted.prompt(None) == ""
    text = "joint commissioning between councils and the NHS"
    expected = embedder.encode([f"query: {text}", f"passage: {text}", text])
    got = np.vstack([prompted.encode([text], "query"), prompted.encode([text], "document"), prompted.encode([text])])
    assert np.allclose(got, expected, atol=1e-5)
    assert float(expected[0] @ expected[2]) < 0.999  # the prompt changed the vector
    assert embedder.prompt("query") == "" and np.allclose(embedder.encode([text], "query"), expected[2], atol=1e-6)
