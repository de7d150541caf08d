"""The checked-in OpenAPI spec (``docs/openapi.json``): ``python -m api.openapi`` writes it from
the app; ``python -m api.openapi --check`` exits 1 when the file differs from what the app serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SPEC_FILE = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def current_spec() -> dict:
    """The spec the app serves at ``/openapi.json`` (no index is opened to build it)."""
    from api.app import create_app

    return create_app().openapi()


def render(spec: dict) -> str:
    """The file's text: indented JSON, keys in the app's order, a final newline."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the spec file, or with ``--check`` compare it; returns the exit status."""
    spec = current_spec()
    if "--check" in argv:
        same = SPEC_FILE.exists() and json.loads(SPEC_FILE.read_text(encoding="utf-8")) == spec
        print(f"{SPEC_FILE} is {'up to date' if same else 'out of date: run python -m api.openapi'}")
        return 0 if same else 1
    SPEC_FILE.parent.mkdir(parents=True, exist_ok=True)
    SPEC_FILE.write_text(render(spec), encoding="utf-8")
    print(f"wrote {SPEC_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
