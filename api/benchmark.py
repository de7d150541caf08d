"""API benchmark (not a test): requests/s and latency percentiles of ``GET /search`` per mode.

    python -m api.benchmark [--requests 200] [--concurrency 4]

Serves the app with uvicorn on a free 127.0.0.1 port against the index of ``EVIDENCE_HUB_HOME``
(``make demo`` fills it with the demo site), sends a fixed number of requests per mode from a
few client threads over loopback, and prints one line per mode. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import uvicorn

QUERIES = ["hospital discharge", "pooled budget", "family hubs", "co-production lived experience",
           "data sharing council NHS", "youth employment partnership", "loneliness older people",
           "homelessness panel", "violence reduction", "governance accountability boards"]


def _serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def run(requests: int, concurrency: int) -> None:
    """Benchmark each mode and print requests/s, p50 and p95 latency (ms)."""
    from api import create_app

    server, thread, url = _serve(create_app())
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            documents = client.get("/health").json()["documents"]
            print(f"GET /search on {documents} documents, {requests} requests per mode, {concurrency} client threads")
            if not documents:
                print("the index is empty: run `make demo` first (or set EVIDENCE_HUB_HOME)")
                return
            for mode in ("bm25", "semantic", "hybrid"):
                for query in QUERIES[:3]:  # warm up (model, snapshot)
                    client.get("/search", params={"q": query, "mode": mode})

                def one(i: int) -> float:
                    """One timed request."""
                    start = time.perf_counter()
                    response = client.get("/search", params={"q": QUERIES[i % len(QUERIES)], "mode": mode,
                                                             "facets": "theme,policy_area,year"})
                    response.raise_for_status()
                    return time.perf_counter() - start

                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    latencies = sorted(pool.map(one, range(requests)))
                elapsed = time.perf_counter() - started
                p50 = statistics.median(latencies) * 1000
                p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] * 1000
                print(f"{mode:9s} {requests / elapsed:7.1f} requests/s   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per mode (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    args = parser.parse_args()
    run(max(1, min(args.requests, 10_000)), max(1, min(args.concurrency, 64)))


if __name__ == "__main__":
    main()
