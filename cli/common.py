"""What every ``evidence-hub`` command shares: consoles, the ``--config`` option, settings loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

console = Console()
err = Console(stderr=True)

ConfigOption = typer.Option(None, "--config", help="YAML settings file (overrides config/settings.yaml)")


def setup_errors() -> tuple[type[Exception], ...]:
    """Errors that mean the hub cannot run as configured, whatever the command: the embedding model
    is missing (ModelNotFound) or cannot be exported (OnnxUnavailable), or the index holds vectors
    of another dimension or model (IndexMismatch). Imported when needed (they pull numpy in)."""
    from index.backend import IndexMismatch
    from index.embedding import ModelNotFound
    from index.onnx_embedding import OnnxUnavailable

    return IndexMismatch, ModelNotFound, OnnxUnavailable


class HubGroup(TyperGroup):
    """The top command group: a :func:`setup_errors` error raised by any command is printed as one
    red line on stderr (it says what to change) with exit status 2, instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not isinstance(exc, setup_errors()):
                raise
            err.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)  # one line: logs keep it whole
            raise typer.Exit(2) from None


def load_cli_settings(config: Optional[Path], **overrides):
    """Settings for a command: files, environment (incl. ``EVIDENCE_HUB_ALLOW_NETWORKS``, CIDR ranges
    separated by commas) and ``overrides``. A configuration error is printed and exits with status 2."""
    from config import ConfigError, load_settings

    extra = {}
    networks = os.environ.get("EVIDENCE_HUB_ALLOW_NETWORKS")
    if networks:
        extra = {"fetch": {"allow_networks": [n.strip() for n in networks.split(",") if n.strip()]}}
    try:
        return load_settings(config, **(extra | overrides))
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def error_messages(exc: Exception) -> str:
    """The messages of a pydantic ``ValidationError`` (or any exception) joined by "; ", without
    pydantic's "Value error, " prefixes, input echoes and documentation links."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in exc.errors())
    return str(exc)


def load_cli_taxonomy(settings):
    """The taxonomy of ``settings`` (``taxonomy_file``); a configuration error is printed and
    exits with status 2."""
    from config import ConfigError, load_taxonomy

    try:
        return load_taxonomy(settings.taxonomy_file)
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
