"""Which embedding model wrote an index: the model folder's digest, and the CLI's clear error when
the configured model is not the one whose vectors the index holds."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

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


def test_the_packaged_model_has_the_digest_its_indexes_record():
    """Indexes record this digest: a change of the recipe (or of the packaged files) makes every
    existing index refuse its own model, so it is held here."""
    assert model_folder_digest(resolve_model_path("all-MiniLM-L6-v2")) == (
        "3c28bf45824d009a2fb67065a6f3fca72290d8c16847a42117f738ba8b6ce488")


def test_model_folders_that_loop_block_or_lead_nowhere_are_clear_errors(tmp_path, monkeypatch):
    """break-it: links back up made the walk grow without end, a FIFO blocked the reader for ever,
    a dangling link was a FileNotFoundError traceback."""
    _, copy = _linked_copy(tmp_path)
    (copy / "1_Pooling" / "up").symlink_to("..")
    (copy / "1_Pooling" / "up2").symlink_to("..")
    (copy / "self").symlink_to(".")
    os.mkfifo(copy / "pipe.bin")
    assert model_folder_digest(copy) == model_folder_digest(resolve_model_path("all-MiniLM-L6-v2"))
    (copy / "extra.bin").symlink_to(tmp_path / "nowhere")
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "hub"))
    HubContext(load_settings()).index.close()  # an index to search
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__MODEL", str(copy))
    result = CliRunner().invoke(app, ["search", "family hubs"])
    assert result.exit_code == 2 and f"model folder {copy} cannot be read" in result.stderr
    assert "extra.bin" in result.stderr


def test_a_model_folder_that_cannot_be_loaded_or_has_bad_prompts_is_a_clear_error(tmp_path, monkeypatch):
    """break-it: a malformed config read as "bad query: ..." on search and a traceback on show and
    reclassify; a prompt that is a number was a TypeError deep in sentence-transformers."""
    from config.settings import EmbeddingSettings
    from index.embedding import Embedder, ModelNotFound

    _, copy = _linked_copy(tmp_path)
    config = copy / "config_sentence_transformers.json"
    good = config.read_text(encoding="utf-8")
    _rewrite(config, json.dumps(json.loads(good) | {"prompts": {"query": 5}}))
    with pytest.raises(ModelNotFound, match="cannot be loaded: TypeError"):
        Embedder(EmbeddingSettings(model=str(copy))).encode(["x"], "query")
    _rewrite(config, '{"prompts": {')
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "hub"))
    HubContext(load_settings()).index.close()  # an index to search
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__MODEL", str(copy))
    for command in (["search", "family hubs"], ["show", "no-such-id"], ["reclassify"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert f"the embedding model at {copy} cannot be loaded" in result.stderr and "bad query" not in result.stderr


def test_ingest_with_another_model_stops_before_fetching_anything(tmp_path, monkeypatch):
    """break-it: ingest exited 0 with every document failed (and recorded as failed) instead of
    refusing the run."""
    import sqlite3

    _, copy = _linked_copy(tmp_path)
    _rewrite(copy / "config.json", (copy / "config.json").read_text(encoding="utf-8").replace("{", '{"note": 1,', 1))
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "hub"))
    ctx = HubContext(load_settings())
    ctx.index.count()
    ctx.close()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.html").write_text("<html><head><title>Joint working</title></head><body><p>"
                                 + "Councils and the NHS commission services together. " * 30 + "</p></body></html>",
                                 encoding="utf-8")
    monkeypatch.setenv("EVIDENCE_HUB_EMBEDDING__MODEL", str(copy))
    result = CliRunner().invoke(app, ["ingest", "--directory", str(docs)])
    assert result.exit_code == 2 and "holds vectors of the embedding model 'all-MiniLM-L6-v2'" in result.stderr
    registry = tmp_path / "hub" / "registry.sqlite"  # refused before the flow: nothing fetched, nothing recorded
    assert not registry.exists() or sqlite3.connect(registry).execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'urls'").fetchone()[0] == 0
