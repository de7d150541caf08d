"""The ingest run loads the embedding model in the background while Prefect starts its API
(flows.ingest.warm_embedder): the model is loaded once per process and shared with the run, and a
model that cannot be loaded is left for the run's own load to report."""

from __future__ import annotations

import threading

from config import load_settings
from flows.ingest import warm_embedder
from index import embedding
from index.embedding import Embedder, resolve_model_path


def test_warming_loads_the_configured_model_that_the_run_then_shares(tmp_path):
    # bfloat16: a model key no other test loads, so the load seen here is the warm thread's
    settings = load_settings(home=str(tmp_path), embedding={"precision": "bfloat16"})
    key = (str(resolve_model_path(settings.embedding.model)), settings.embedding.device, "bfloat16")
    embedding._MODELS.pop(key, None)
    thread = warm_embedder(settings)
    thread.join(timeout=300)
    assert not thread.is_alive() and key in embedding._MODELS
    assert Embedder(settings.embedding).model is embedding._MODELS[key][0]
    embedding._MODELS.pop(key, None)


def test_a_model_that_cannot_load_raises_nothing_in_the_warm_thread(tmp_path, monkeypatch):
    escaped: list = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    settings = load_settings(home=str(tmp_path), embedding={"model": str(tmp_path / "no-such-model")})
    thread = warm_embedder(settings)
    thread.join(timeout=120)
    assert not thread.is_alive() and escaped == []
