"""``evidence-hub serve``: the HTTP API and the web page (uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import ConfigOption, console, load_cli_settings


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Serve the search API (OpenAPI at /docs) and the web page for researchers (at /).

    Write endpoints need EVIDENCE_HUB_API_TOKEN set; EVIDENCE_HUB_API_PROTECT_READS=true makes
    every endpoint ask for it."""
    import uvicorn

    from api import create_app
    from flows.context import HubContext

    settings = load_cli_settings(config)
    ctx = HubContext(settings)  # model and index checked here: a setup error is one line, not a traceback
    try:
        ctx.index  # noqa: B018 - loads the model (kept for the server) and opens the index
    finally:
        ctx.close()
    app = create_app(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"Evidence Hub on [link=http://{shown}:{port}/]http://{shown}:{port}/[/link] "
                  f"(API docs: /docs; data directory {settings.home})", soft_wrap=True)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
