"""What several benchmark scripts share: the quiet, offline process environment they set before
importing Prefect or the model, and running the hub's own CLI for its JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def set_bench_environment(*, prefect_home: bool = True) -> None:
    """Defaults (never overriding the caller's environment) for a benchmark process: no model hub
    (``HF_HUB_OFFLINE=1``), no telemetry, quiet Prefect logs, a patient ephemeral Prefect server
    start-up (180 s: the machines are shared) and, with ``prefect_home``, a throw-away
    ``PREFECT_HOME``. Call before importing Prefect or sentence-transformers."""
    defaults = {
        "HF_HUB_OFFLINE": "1", "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    if prefect_home:
        defaults["TOKENIZERS_PARALLELISM"] = "false"
        defaults["PREFECT_HOME"] = os.environ.get("PREFECT_HOME") or tempfile.mkdtemp(prefix="bench-prefect-")
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


def hub_json(home: Path, *args: str, model: str | None = None) -> dict:
    """Run ``evidence-hub ARGS --json`` against the data directory ``home`` (with ``model`` as
    ``embedding.model`` when given, else the shipped settings); its stdout as JSON.
    Raises ``subprocess.CalledProcessError`` when the command fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_HUB_")} | {"EVIDENCE_HUB_HOME": str(home)}
    if model:
        env["EVIDENCE_HUB_EMBEDDING__MODEL"] = model
    command = [sys.executable, "-m", "cli.main", *args, "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)
    return json.loads(done.stdout)
