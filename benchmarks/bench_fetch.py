"""Fetch benchmark: the hub's Fetcher against plain httpx on the same URLs of a fast local site,
politeness off (no per-host delay, per-host concurrency = the thread count). A script, not a test.

    python benchmarks/bench_fetch.py [--pages 400] [--kib 20] [--concurrency 1 4] [--rounds 3]

The site is a folder of generated HTML pages served by ``python -m demo.server`` in its own
process (so the server does not share the benchmark's interpreter lock). For each concurrency
the same URL list is fetched by ``Fetcher.get`` and by ``httpx.Client.get`` from a thread pool of
that size, taking turns every 25 URLs so that load from other processes falls on both alike; the
ratio is hub throughput / httpx throughput (target >= 0.8: the safety and politeness machinery
costs at most a fifth of plain fetching). This process's CPU time per document is printed too,
with its ratio: on a shared, loaded machine wall-clock ratios swing by about 0.1 from run to run,
CPU time much less.

``--json PATH`` also writes the figures as flat JSON (benchmarks/results_io.py):
``c<threads>_{hub_docs_per_s,httpx_docs_per_s,ratio,hub_cpu_ms,httpx_cpu_ms,hub_mib_per_s}`` per
concurrency, and peak memory (the site server is a child process: ``peak_rss_children_mib``).

``measure(urls, concurrency, rounds)`` is importable (benchmarks/bench_pipeline.py measures a
single sequential pass over the real corpus; this script is the dedicated fetch measurement).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from config.settings import FetchSettings  # noqa: E402
from crawl.fetch import Fetcher  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402

TARGET = 0.8
WORDS = "partnership council health evidence housing evaluation services community care budget".split()


def write_site(folder: Path, pages: int, kib: int) -> list[str]:
    """Write ``pages`` HTML pages of about ``kib`` KiB each; returns their URL paths."""
    paths = []
    for i in range(pages):
        text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(kib * 1024 // 9))
        (folder / f"page-{i:05d}.html").write_text(
            f"<!DOCTYPE html><html><head><title>Page {i}</title></head><body><p>{text}</p></body></html>")
        paths.append(f"/page-{i:05d}.html")
    return paths


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(folder: Path) -> tuple[subprocess.Popen, str]:
    """Start ``python -m demo.server folder`` on a free loopback port; returns (process, base URL)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "demo.server", str(folder), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/robots.txt", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the local site did not start")


def _run(fetch_one, urls: list[str], pool: ThreadPoolExecutor | None) -> tuple[float, float, int]:
    """Wall seconds, this process's CPU seconds and bytes to fetch every URL (in ``pool`` if given)."""
    wall, cpu = time.perf_counter(), time.process_time()
    sizes = list(pool.map(fetch_one, urls)) if pool is not None else [fetch_one(u) for u in urls]
    return time.perf_counter() - wall, time.process_time() - cpu, sum(sizes)


def measure(urls: list[str], concurrency: int, rounds: int = 3, batch: int = 25) -> dict:
    """Throughput of the hub Fetcher and of plain httpx on ``urls`` with ``concurrency`` threads.

    The two take turns every ``batch`` URLs (order alternating), so a load change on a shared
    machine hits both alike; times are summed over ``rounds`` passes. Returns ``{"hub_docs_s",
    "httpx_docs_s", "ratio", "hub_cpu_ms", "httpx_cpu_ms", "mib_s"}`` (CPU: this process, per
    document); every fetch must succeed.
    """
    settings = FetchSettings(allow_networks=["127.0.0.1/32"], min_delay_s=0, retries=0, concurrency=concurrency)
    limits = httpx.Limits(max_connections=max(16, concurrency * concurrency),
                          max_keepalive_connections=max(8, concurrency))
    totals = {"hub": [0.0, 0.0, 0], "plain": [0.0, 0.0, 0]}
    pool = ThreadPoolExecutor(concurrency) if concurrency > 1 else None
    with Fetcher(settings, per_host_concurrency=concurrency) as fetcher, \
            httpx.Client(limits=limits, headers={"Accept-Encoding": "gzip, deflate"}) as client:
        def hub(url: str) -> int:
            return len(fetcher.get(url).content)

        def plain(url: str) -> int:
            response = client.get(url)
            response.raise_for_status()
            return len(response.content)

        for warm in urls[:20]:
            hub(warm), plain(warm)
        turn = 0
        for _ in range(rounds):
            for start in range(0, len(urls), batch):
                part = urls[start:start + batch]
                for name, fetch_one in ((("hub", hub), ("plain", plain)) if turn % 2 == 0
                                        else (("plain", plain), ("hub", hub))):
                    wall, cpu, size = _run(fetch_one, part, pool)
                    totals[name][0] += wall
                    totals[name][1] += cpu
                    totals[name][2] += size
                turn += 1
    if pool is not None:
        pool.shutdown()
    n = len(urls) * rounds
    (hub_wall, hub_cpu, hub_bytes), (plain_wall, plain_cpu, _) = totals["hub"], totals["plain"]
    return {"hub_docs_s": n / hub_wall, "httpx_docs_s": n / plain_wall, "ratio": plain_wall / hub_wall,
            "hub_cpu_ms": 1000 * hub_cpu / n, "httpx_cpu_ms": 1000 * plain_cpu / n,
            "mib_s": hub_bytes / hub_wall / 2**20}


def main() -> int:
    """Run the benchmark and print one line per concurrency; exit 1 when a ratio misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--kib", type=int, default=20, help="size of each page")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args()
    report = JsonReport("fetch", args.json)
    report.add("pages", args.pages, "pages on the local site")
    report.add("page_kib", args.kib, "size of each page (KiB)")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as folder:
        paths = write_site(Path(folder), args.pages, args.kib)
        proc, base = serve(Path(folder))
        try:
            urls = [base + p for p in paths]
            print(f"{len(urls)} pages of ~{args.kib} KiB on {base} (demo.server, own process); politeness off")
            print("threads | hub Fetcher docs/s | plain httpx docs/s | ratio | hub MiB/s | client CPU ms/doc hub, httpx (ratio)")
            ok = True
            for concurrency in args.concurrency:
                result = measure(urls, concurrency, args.rounds)
                verdict = "ok" if result["ratio"] >= TARGET else f"below target {TARGET}"
                ok &= result["ratio"] >= TARGET
                print(f"{concurrency:7d} | {result['hub_docs_s']:18.1f} | {result['httpx_docs_s']:18.1f} | "
                      f"{result['ratio']:5.2f} | {result['mib_s']:9.1f} | {result['hub_cpu_ms']:.2f}, "
                      f"{result['httpx_cpu_ms']:.2f} ({result['httpx_cpu_ms'] / result['hub_cpu_ms']:.2f})  {verdict}",
                      flush=True)
                what = f"{concurrency} thread(s)"
                report.add(f"c{concurrency}_hub_docs_per_s", result["hub_docs_s"], f"hub Fetcher documents/s, {what}")
                report.add(f"c{concurrency}_httpx_docs_per_s", result["httpx_docs_s"],
                           f"plain httpx documents/s, {what}")
                report.add(f"c{concurrency}_ratio", result["ratio"],
                           f"hub / httpx throughput, {what} (target >= {TARGET})")
                report.add(f"c{concurrency}_hub_cpu_ms", result["hub_cpu_ms"], f"client CPU ms per document, hub, {what}")
                report.add(f"c{concurrency}_httpx_cpu_ms", result["httpx_cpu_ms"],
                           f"client CPU ms per document, httpx, {what}")
                report.add(f"c{concurrency}_hub_mib_per_s", result["mib_s"], f"hub MiB/s, {what}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    report.write(parser, args)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
