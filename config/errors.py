"""The one error type for bad configuration."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration file or variable is invalid.

    The message names the origin (a file path or ``environment``), the field (dotted path) and
    what is wrong, one problem per line, so an operator can fix it without reading code.
    """


def describe_validation_error(origin: str, error: ValidationError) -> ConfigError:
    """Turn a pydantic ``ValidationError`` into a :class:`ConfigError` naming ``origin``.

    Returns (does not raise) the error; each line reads ``origin: field.path: message (got X)``.
    """
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(top level)"
        got = item.get("input")
        shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
        lines.append(f"{origin}: {loc}: {item['msg']}{shown}")
    return ConfigError("\n".join(lines))


def read_yaml(path: Path) -> dict:
    """Read a YAML mapping from ``path``.

    Raises ConfigError when the file is missing, is not valid YAML or is not a mapping.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data
