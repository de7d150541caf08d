"""The JSON every benchmark script writes with ``--json PATH``, and the facts around it.

One file per benchmark run, read by ``benchmarks/report.py``. The shape is flat on purpose — one
level of named figures, each with a one-line description — so a reader (or ``jq``) needs no
knowledge of the script::

    {
      "benchmark": "extract",                       # which script
      "command": "python benchmarks/bench_extract.py --subset 40 --json ...",   # exactly as run
      "reduced": ["--subset 40"],                   # arguments that differ from the full run ([] = full)
      "date_utc": "2026-11-30T04:40:00Z",           # when the run finished
      "commit": "b897497…", "dirty": true,          # git HEAD of the clone, uncommitted changes?
      "seconds": 123.4,                             # wall time of the whole script
      "load_average": {"start": 1.9, "end": 2.3},   # 1-minute load average before and after (vs "cpus")
      "machine": {"cpu_model", "cpus", "ram_gib", "os", "python", "packages": {name: version}},
      "figures": {"articles_hub_all_f1": 0.912, ...},          # name -> number, string or null
      "descriptions": {"articles_hub_all_f1": "mean token F1 ..."}   # name -> what it is, with unit
    }

Peak memory (``peak_rss_self_mib`` and ``peak_rss_children_mib``) comes from
``resource.getrusage``: ``ru_maxrss`` of this process and the largest of its waited-for child
processes (Linux reports KiB; converted to MiB).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: the packages whose versions a figure depends on (reported when installed)
PACKAGES = ("evidence-hub", "torch", "sentence-transformers", "onnxruntime", "trafilatura", "pdfminer.six",
            "pypdfium2", "httpx", "prefect", "opensearch-py", "numpy", "ir-measures", "scikit-learn",
            "matplotlib", "openvino")


def peak_rss_mib() -> dict[str, float]:
    """Peak resident memory so far, in MiB: ``{"peak_rss_self_mib", "peak_rss_children_mib"}``.

    ``self`` is this process; ``children`` the largest single child process this process has
    waited for (``RUSAGE_CHILDREN``; 0.0 when none). Linux-only units (``ru_maxrss`` in KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"peak_rss_self_mib": round(own / 1024, 1), "peak_rss_children_mib": round(children / 1024, 1)}


PEAK_RSS_DESCRIPTIONS = {
    "peak_rss_self_mib": "peak resident memory of the benchmark process (MiB, getrusage RUSAGE_SELF)",
    "peak_rss_children_mib": "peak resident memory of its largest finished child process "
                             "(MiB, getrusage RUSAGE_CHILDREN; 0 = none)",
}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _load_average() -> float | None:
    """The 1-minute load average (runnable processes; compare with the CPU count), None if unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine() -> dict[str, Any]:
    """This machine: ``{"cpu_model", "cpus", "ram_gib", "os", "python", "packages": {name: version}}``
    (packages that are not installed are left out)."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"cpu_model": _cpu_model(), "cpus": os.cpu_count(), "ram_gib": _ram_gib(),
            "os": platform.platform(), "python": sys.version.split()[0], "packages": packages}


BENCH_OUTPUTS = ("benchmarks/results", "BENCHMARKS.md", "docs/benchmarks")
"""What ``make bench`` writes (paths relative to the repository root)."""


def git_commit() -> tuple[str | None, bool | None]:
    """(HEAD commit, whether the working tree has uncommitted changes), or (None, None) outside git.
    The benchmarks' own outputs (``BENCH_OUTPUTS``) do not count: ``make bench`` rewrites them as it
    goes, and a fresh clone would otherwise look modified from its second benchmark on."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                     *(f":!{path}" for path in BENCH_OUTPUTS)], cwd=ROOT,
                                    capture_output=True, text=True, timeout=60).stdout.strip())
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def reduced_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace,
                      ignore: tuple[str, ...] = ("json",)) -> list[str]:
    """The options of ``args`` that differ from the parser's defaults (``["--subset 40", ...]``),
    leaving out ``ignore`` (destinations such as output paths that do not change what is
    measured). Paths are compared resolved, so another data folder (a smaller corpus) counts as
    reduced. An empty list means a full run."""
    out = []
    for action in parser._actions:  # noqa: SLF001 - argparse has no public listing of its options
        dest = action.dest
        if dest in ignore or dest == "help" or not action.option_strings:
            continue
        value = getattr(args, dest, None)
        default = action.default
        if isinstance(value, Path) and isinstance(default, Path):
            value, default = value.resolve(), default.resolve()  # ../shared/x and /abs/shared/x are the same
        if value != default:
            shown = " ".join(map(str, value)) if isinstance(value, list) else ("" if value is True else str(value))
            out.append(f"{action.option_strings[0]} {shown}".strip())
    return out


class JsonReport:
    """Collects flat figures while a benchmark runs and writes them to ``path`` (if given).

    ``add(name, value, description)`` records one figure (value: int, float, str, bool or None;
    NaN is written as null); ``write(...)`` adds the peak-memory figures, the machine, the commit
    and the date, and writes the file. Raises ``ValueError`` for a name that is not a plain
    identifier (so that the JSON stays flat and greppable)."""

    def __init__(self, benchmark: str, path: Path | None):
        self.benchmark = benchmark
        self.path = path
        self.figures: dict[str, Any] = {}
        self.descriptions: dict[str, str] = {}
        self.started = time.perf_counter()
        self.load_start = _load_average()

    def add(self, name: str, value: Any, description: str) -> None:
        """Record figure ``name`` (a lower-case identifier) = ``value``, described with its unit."""
        if not name.replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"figure name must be an identifier, not {name!r}")
        if isinstance(value, float) and value != value:  # NaN
            value = None
        elif isinstance(value, float):
            value = round(value, 4)
        self.figures[name] = value
        self.descriptions[name] = description

    def write(self, parser: argparse.ArgumentParser | None = None, args: argparse.Namespace | None = None,
              ignore: tuple[str, ...] = ("json",)) -> dict | None:
        """Add peak memory and context, write the JSON to ``self.path`` (creating its folder) and
        return the object; None (nothing written) when no path was given."""
        for name, value in peak_rss_mib().items():
            self.add(name, value, PEAK_RSS_DESCRIPTIONS[name])
        if self.path is None:
            return None
        commit, dirty = git_commit()
        argv = [a if not a.startswith(str(ROOT) + "/") else os.path.relpath(a, ROOT) for a in sys.argv]
        script = os.path.relpath(argv[0], ROOT) if os.path.isabs(argv[0]) else argv[0]
        out = {"benchmark": self.benchmark,
               "command": " ".join(["python", shlex.quote(script), *map(shlex.quote, argv[1:])]),
               "reduced": reduced_arguments(parser, args, ignore) if parser is not None and args is not None else [],
               "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "commit": commit, "dirty": dirty, "seconds": round(time.perf_counter() - self.started, 1),
               "load_average": {"start": self.load_start, "end": _load_average()},
               "machine": machine(), "figures": self.figures, "descriptions": self.descriptions}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {self.path}")
        return out
