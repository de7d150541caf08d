"""Embedding benchmark: torch (float32) against torch in bfloat16, the ONNX backend (float32 and
int8) and the OpenVINO backend (the float32 export compiled by OpenVINO, bfloat16) on real passages.
A script, not a test.

    nice -n 10 python benchmarks/bench_embed.py [--passages 128] [--queries 300] [--rounds 2]
                                                [--repeats 2] [--backends torch torch_bf16 onnx_fp32 onnx_int8 openvino_bf16]
                                                [--scifact ../shared/ir/scifact] [--cache-dir DIR]
                                                [--json FILE]

Passages: SciFact abstracts (``<scifact>/corpus.jsonl``, title + abstract, the first ``--passages``
chunks) cut by the project's chunker (``index.chunking.chunk_pages`` with ``chunking.max_words`` /
``overlap_words`` from the settings, as ingest does), so their lengths are those the index sees
(about 200-256 word pieces; the model truncates at 256). Queries: the SciFact claims
(``queries.jsonl``), short sentences.

Each backend runs in its own spawned process (so peak memory is that backend's alone), ``--rounds``
times in alternating order (the listed order, then reversed, ...) so that all see the same
machine load; each process embeds the passages ``--repeats`` times after one warm-up batch. The
figures keep the best pass (and the median). The machine is shared: wall-clock rates move with
the load, so the process CPU time per passage (``time.process_time``, all threads) is reported too
(it moves far less). Threads: torch's default (one per core) for both backends.

Printed and, with ``--json FILE``, written flat (``benchmarks/results_io.py``), per backend
``<b>`` in ``torch``, ``torch_bf16`` (``embedding.precision: bfloat16``), ``onnx_fp32``, ``onnx_int8``,
``openvino_bf16`` (``embedding.backend: openvino``, ``precision: bfloat16``):

* ``<b>_passages_per_s`` (best pass), ``<b>_passages_per_s_median``: passages embedded per second;
* ``<b>_cpu_ms_per_passage``: process CPU time per passage, ms (best pass);
* ``<b>_ratio_to_torch``: ``<b>_passages_per_s`` / ``torch_passages_per_s``;
  ``<b>_cpu_ratio_to_torch``: torch CPU ms per passage / ``<b>``'s;
* ``<b>_cosine_mean``, ``<b>_cosine_min``: cosine of each passage vector to torch's vector of the
  same passage (torch: 1.0);
* ``<b>_queries_per_s``: short queries embedded per second in batches of ``embedding.batch_size``;
  ``<b>_query_ms_p50``: median latency of one query embedded alone (as a search does), ms;
  ``<b>_query_cosine_min``: lowest query cosine to torch;
* ``<b>_peak_rss_mib``: peak resident memory of that backend's process (getrusage, MiB), the lowest
  over the rounds (a process that built the ONNX export peaks higher; with one round it is counted);
* ``<b>_load_s``: time to the first vector (model load, plus ONNX build or cache load);

and ``passages``, ``passage_tokens_mean``, ``queries``, ``threads``, ``load_avg_start``,
``load_avg_end`` (1-minute load average), ``onnx_int8_meets_targets``,
``torch_bf16_meets_targets`` and ``openvino_bf16_meets_targets`` (ratio >= 2.5 and cosine min >= 0.99), plus ``peak_rss_self_mib`` / ``peak_rss_children_mib`` from results_io.

The ONNX export is cached in ``--cache-dir`` (default: the hub's ``embedding.onnx_cache_dir``,
``<home>/models/onnx``); the first run builds it (tens of seconds, reported in ``_load_s``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# name -> (embedding.backend, embedding.onnx_quantize, embedding.precision)
BACKENDS = {"torch": ("torch", "none", "float32"), "torch_bf16": ("torch", "none", "bfloat16"),
            "onnx_fp32": ("onnx", "none", "float32"), "onnx_int8": ("onnx", "int8", "float32"),
            "openvino_bf16": ("openvino", "none", "bfloat16")}


def load_texts(scifact: Path, n_passages: int, n_queries: int, max_words: int, overlap_words: int) -> tuple[list, list]:
    """(passages, queries): chunks of SciFact abstracts via the project's chunker, and claims."""
    from core.models import Page
    from index.chunking import chunk_pages

    passages: list[str] = []
    with open(scifact / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            text = f"{doc.get('title', '')}. {doc.get('text', '')}".strip()
            for chunk in chunk_pages([Page(number=1, text=text)], max_words=max_words, overlap_words=overlap_words):
                passages.append(chunk.text)
            if len(passages) >= n_passages:
                break
    queries = []
    with open(scifact / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            queries.append(json.loads(line)["text"])
            if len(queries) >= n_queries:
                break
    return passages[:n_passages], queries


def worker(name: str, passages: list[str], queries: list[str], repeats: int, cache_dir: str, out_dir: str,
           queue) -> None:
    """Runs in a spawned process: one backend, timed; vectors saved to ``out_dir``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from config.settings import EmbeddingSettings
    from index.embedding import Embedder

    backend, quantize, precision = BACKENDS[name]
    t0 = time.perf_counter()
    embedder = Embedder(EmbeddingSettings(backend=backend, onnx_quantize=quantize, precision=precision,
                                          onnx_cache_dir=cache_dir))
    embedder.encode(passages[:8])
    load_s = time.perf_counter() - t0
    passes = []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        vectors = embedder.encode(passages, "document")
        passes.append((time.perf_counter() - w0, time.process_time() - c0))
    w0 = time.perf_counter()
    query_vectors = embedder.encode(queries, "query")
    queries_s = time.perf_counter() - w0
    singles = []
    for query in queries[:100]:
        w0 = time.perf_counter()
        embedder.encode([query], "query")
        singles.append(time.perf_counter() - w0)
    np.save(Path(out_dir) / f"{name}_passages.npy", vectors)
    np.save(Path(out_dir) / f"{name}_queries.npy", query_vectors)
    import torch

    queue.put({"name": name, "passes": passes, "queries_s": queries_s, "query_ms_p50": statistics.median(singles) * 1000,
               "load_s": load_s, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "threads": torch.get_num_threads(), "dtype": str(vectors.dtype), "shape": list(vectors.shape)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--scifact", type=Path, default=ROOT.parent / "shared" / "ir" / "scifact")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from config import load_settings
    from results_io import JsonReport

    settings = load_settings()
    if not (args.scifact / "corpus.jsonl").exists():
        print(f"{args.scifact}/corpus.jsonl is missing (../shared beside the clone)", file=sys.stderr)
        return 2
    cache_dir = args.cache_dir or settings.embedding.onnx_cache_dir
    passages, queries = load_texts(args.scifact, args.passages, args.queries, settings.chunking.max_words,
                                   settings.chunking.overlap_words)
    from index.embedding import load_model, resolve_model_path

    tokenizer = load_model(resolve_model_path(settings.embedding.model), "cpu")[0].tokenizer
    tokens = [len(ids) for ids in tokenizer(passages, truncation=True, max_length=256)["input_ids"]]
    report = JsonReport("embed", args.json)
    load_start = os.getloadavg()[0]
    print(f"{len(passages)} passages ({np.mean(tokens):.0f} word pieces mean, capped at 256), {len(queries)} queries; "
          f"cache {cache_dir}; load average {load_start:.1f}", flush=True)
    results: dict[str, list[dict]] = {name: [] for name in args.backends}
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as out_dir:
        for round_no in range(args.rounds):
            order = args.backends if round_no % 2 == 0 else list(reversed(args.backends))
            for name in order:
                queue = context.Queue()
                process = context.Process(target=worker, args=(name, passages, queries, args.repeats, str(cache_dir),
                                                                out_dir, queue))
                process.start()
                result = queue.get()
                process.join()
                results[name].append(result)
                best = min(p[0] for p in result["passes"])
                print(f"  round {round_no + 1} {name:10s} {len(passages) / best:6.1f} passages/s "
                      f"(load {result['load_s']:.1f} s)", flush=True)
        vectors = {name: np.load(Path(out_dir) / f"{name}_passages.npy") for name in args.backends}
        query_vectors = {name: np.load(Path(out_dir) / f"{name}_queries.npy") for name in args.backends}

    n = len(passages)
    report.add("passages", n, "passages embedded per pass (SciFact abstracts cut by the project's chunker)")
    report.add("passage_tokens_mean", float(np.mean(tokens)), "mean word pieces per passage (capped at 256)")
    report.add("queries", len(queries), "short queries (SciFact claims)")
    report.add("load_avg_start", load_start, "1-minute load average when the run started (2 cores shared)")
    rates = {}
    print(f"\n{'backend':10s} {'pass/s':>7s} {'median':>7s} {'cpu ms':>7s} {'ratio':>6s} {'cpu x':>6s} {'cos mean':>9s} "
          f"{'cos min':>8s} {'q/s':>6s} {'q p50ms':>8s} {'q cos min':>9s} {'RSS MiB':>8s} {'load s':>7s}")
    for name in args.backends:
        passes = [p for r in results[name] for p in r["passes"]]
        rate = n / min(p[0] for p in passes)
        median = n / statistics.median(p[0] for p in passes)
        cpu_ms = min(p[1] for p in passes) / n * 1000
        rates[name] = (rate, cpu_ms)
        reference = "torch" if "torch" in vectors else name
        cos = np.sum(vectors[name] * vectors[reference], axis=1)
        qcos = np.sum(query_vectors[name] * query_vectors[reference], axis=1)
        qps = max(len(queries) / r["queries_s"] for r in results[name])
        q50 = min(r["query_ms_p50"] for r in results[name])
        rss = min(r["peak_rss_mib"] for r in results[name])
        load_s = max(r["load_s"] for r in results[name])
        base_rate, base_cpu = rates.get("torch", (rate, cpu_ms))
        report.add(f"{name}_passages_per_s", rate, f"{name}: passages/s, best of {len(passes)} passes")
        report.add(f"{name}_passages_per_s_median", median, f"{name}: passages/s, median pass")
        report.add(f"{name}_cpu_ms_per_passage", cpu_ms, f"{name}: process CPU ms per passage (all threads), best pass")
        report.add(f"{name}_ratio_to_torch", rate / base_rate, f"{name}: passages/s over torch's")
        report.add(f"{name}_cpu_ratio_to_torch", base_cpu / cpu_ms, f"{name}: torch CPU ms per passage over {name}'s")
        report.add(f"{name}_cosine_mean", float(cos.mean()), f"{name}: mean cosine of passage vectors to torch's")
        report.add(f"{name}_cosine_min", float(cos.min()), f"{name}: lowest cosine of a passage vector to torch's")
        report.add(f"{name}_query_cosine_min", float(qcos.min()), f"{name}: lowest cosine of a query vector to torch's")
        report.add(f"{name}_queries_per_s", qps, f"{name}: short queries/s in batches")
        report.add(f"{name}_query_ms_p50", q50, f"{name}: median ms to embed one query alone")
        report.add(f"{name}_peak_rss_mib", rss, f"{name}: peak RSS of the backend's process, MiB (getrusage)")
        report.add(f"{name}_load_s", load_s, f"{name}: seconds to the first vector (load, ONNX build or cache)")
        print(f"{name:10s} {rate:7.1f} {median:7.1f} {cpu_ms:7.1f} {rate / base_rate:6.2f} {base_cpu / cpu_ms:6.2f} "
              f"{cos.mean():9.5f} {cos.min():8.5f} {qps:6.0f} {q50:8.1f} {qcos.min():9.5f} {rss:8.0f} {load_s:7.1f}")
    threads = results[args.backends[0]][0]["threads"]
    report.add("threads", threads, "intra-op threads of both backends (torch.get_num_threads())")
    report.add("load_avg_end", os.getloadavg()[0], "1-minute load average when the run ended")
    for fast in ("onnx_int8", "torch_bf16", "openvino_bf16"):
        if fast in rates and "torch" in rates:
            meets = rates[fast][0] / rates["torch"][0] >= 2.5 and float(
                np.min(np.sum(vectors[fast] * vectors["torch"], axis=1))) >= 0.99
            report.add(f"{fast}_meets_targets", bool(meets), f"{fast} >= 2.5x torch passages/s and cosine min >= 0.99")
    print(f"threads {threads}; load average {load_start:.1f} -> {os.getloadavg()[0]:.1f}")
    report.write(parser, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
