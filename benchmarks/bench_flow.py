"""Orchestration overhead: the Prefect flow against the same stage functions in a plain loop.
A script, not a test.

    python benchmarks/bench_flow.py [--docs 24] [--folder ../shared/corpus/docs]

Both sides ingest the same documents (the first ``--docs`` PDF/HTML files of the folder, smallest
first so a run takes minutes, served over HTTP by ``demo.server.StaticSite`` on 127.0.0.1 with a
sitemap) into fresh data directories, with the same settings (politeness off, same thread count):

* **flow**: ``flows.ingest.run_ingest`` — Prefect flow, tasks on a thread pool, run records;
* **loop**: ``discover`` then, with a ``ThreadPoolExecutor`` of the same size,
  ``flows.steps.fetch_and_extract`` for each URL and ``flows.steps.index_document`` for each
  extracted document on the calling thread — the same stage functions without Prefect.

The model is loaded (and the extraction workers started) before either side is timed, and the
two sides run in alternating order over ``--rounds`` rounds. Ratio = flow docs/s / loop docs/s
(target >= 0.8: orchestration costs at most a fifth).

``--json PATH`` also writes the figures as flat JSON (benchmarks/results_io.py): ``documents``,
``{flow,loop}_indexed``, ``{flow,loop}_seconds`` (best round), ``{flow,loop}_docs_per_s``,
``ratio`` and peak memory (extraction worker processes count in ``peak_rss_children_mib``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import set_bench_environment  # noqa: E402

set_bench_environment(prefect_home=False)

from config import load_settings  # noqa: E402
from config.sources import Source  # noqa: E402
from crawl.discovery import discover  # noqa: E402
from demo.server import StaticSite  # noqa: E402
from flows.context import HubContext  # noqa: E402
from flows.ingest import run_ingest  # noqa: E402
from flows.steps import discovery_fetch, fetch_and_extract, index_document  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402

TARGET = 0.8


def _settings(home: Path):
    return load_settings(home=str(home), fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0})


def run_loop(source: Source, home: Path) -> int:
    """The stage functions without Prefect; returns the number of documents indexed."""
    settings = _settings(home)
    ctx = HubContext(settings)
    indexed = 0
    try:
        items = discover(source, discovery_fetch(ctx, source))
        with ThreadPoolExecutor(max_workers=settings.fetch.concurrency) as pool:
            futures = [pool.submit(fetch_and_extract, ctx, source, item) for item in items]
            for future in as_completed(futures):
                outcome = future.result()
                if outcome.state == "extracted":
                    indexed += index_document(ctx, source, outcome).state == "indexed"
    finally:
        ctx.close()
    return indexed


def run_flow(source: Source, home: Path) -> int:
    """The Prefect flow; returns the number of documents indexed."""
    return run_ingest([source], _settings(home)).indexed


def main() -> None:
    """Run both sides ``--rounds`` times, print the best of each and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=ROOT.parent / "shared" / "corpus" / "docs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args()
    report = JsonReport("flow", args.json)
    if not args.folder.is_dir():
        sys.exit(f"{args.folder} not found: pass --folder with PDF/HTML files")
    files = sorted((p for p in args.folder.iterdir() if p.suffix.lower() in (".pdf", ".html", ".htm")),
                   key=lambda p: p.stat().st_size)[: args.docs]
    work = Path(tempfile.mkdtemp(prefix="bench-flow-"))
    site_root = work / "site"
    site_root.mkdir()
    for path in files:
        shutil.copy(path, site_root / path.name)
    # warm-up: load the model and the extraction code once per process (not timed)
    warm = HubContext(_settings(work / "warm"))
    warm.embedder.encode(["warm up"])
    warm.close()
    timings: dict[str, list[float]] = {"flow": [], "loop": []}
    indexed: dict[str, int] = {}
    try:
        with StaticSite(site_root) as site:
            source = Source(name="bench", kind="sitemap", url=site.base_url + "/sitemap.xml")
            for round_number in range(args.rounds):
                order = ("flow", "loop") if round_number % 2 == 0 else ("loop", "flow")
                for side in order:
                    home = work / f"{side}-{round_number}"
                    started = time.perf_counter()
                    indexed[side] = (run_flow if side == "flow" else run_loop)(source, home)
                    timings[side].append(time.perf_counter() - started)
                    print(f"round {round_number + 1} {side}: {indexed[side]} documents in {timings[side][-1]:.1f} s",
                          flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {side: min(values) for side, values in timings.items()}
    rate = {side: indexed[side] / best[side] for side in best}
    ratio = rate["flow"] / rate["loop"] if rate["loop"] else float("nan")
    print(f"\n{len(files)} documents ({sum(p.stat().st_size for p in files) / 1e6:.1f} MB) over HTTP on 127.0.0.1; "
          f"best of {args.rounds} rounds")
    print("side | indexed | seconds | docs/s")
    for side in ("loop", "flow"):
        print(f"{side:4} | {indexed[side]:7} | {best[side]:7.1f} | {rate[side]:6.2f}")
    print(f"flow / loop = {ratio:.2f}  (target >= {TARGET}) {'ok' if ratio >= TARGET else 'BELOW TARGET'}")
    report.add("documents", len(files), "documents served (the smallest --docs files of the folder)")
    report.add("rounds", args.rounds, "rounds; each side's best round is reported")
    for side, what in (("flow", "Prefect flow (run_ingest)"), ("loop", "plain loop over the same stage functions")):
        report.add(f"{side}_indexed", indexed[side], f"documents indexed by the {what}")
        report.add(f"{side}_seconds", best[side], f"best-round wall seconds, {what}")
        report.add(f"{side}_docs_per_s", rate[side], f"documents/s, {what}")
    report.add("ratio", ratio, f"flow docs/s / loop docs/s (target >= {TARGET})")
    report.write(parser, args, ignore=("json",))


if __name__ == "__main__":
    main()
