"""Hybrid fusion functions compared on judged queries, with each retriever run once per query.
A script, not a test; prints figures, asserts nothing.

    python benchmarks/bench_fusion.py --set NAME HOME QUERIES QRELS [--set ...]
                                      [--sweep] [--cache DIR] [--json PATH]

For each ``--set`` (a data directory ``HOME`` holding an embedded index, a queries file and a
qrels file in the forms ``evidence-hub eval search`` reads), every judged query is run once
through the embedded index's own BM25 and semantic retrieval (the :data:`index.query.CANDIDATES`
best documents of each, exactly the lists hybrid search fuses, and the exact-title documents that
hybrid puts first), then the two lists are fused in memory by ``index.query.fuse`` under many
``search.hybrid`` settings and scored with the hub's own scorer (``index.evaluation.score_run``:
nDCG@10 and recall@100 by ir-measures over the top 100). With ``--cache DIR`` the per-query lists
are kept in ``DIR/<NAME>.json`` and reused, so sweeps cost seconds. The semantic lists are those of
the plain query vector: hybrid search's pseudo-relevance feedback (``search.hybrid.feedback_docs``)
is not modelled here, so the hybrid figures are those of hybrid without feedback.

Without ``--sweep`` a short table of named configurations is printed (bm25, semantic, plain RRF,
the configured ``search.hybrid`` and a few alternatives). ``--sweep`` adds a grid: RRF k x
semantic weight and convex combination weight x normalisation, with the best configuration per
set by nDCG@10. Which set a parameter is chosen on is the caller's business: tune on one set,
read the others as held out (README, "Hybrid fusion").

``--json PATH`` writes flat figures (benchmarks/results_io.py): ``<set>_<config>_ndcg10`` and
``<set>_<config>_recall100`` (0-1) for the named configurations, ``<set>_queries``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import set_bench_environment  # noqa: E402

set_bench_environment()

import ir_measures  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402
from config.settings import HybridSettings, load_settings  # noqa: E402
from index.evaluation import DEPTH, document_key, fit_query, read_qrels, read_queries, score_run  # noqa: E402
from index.query import CANDIDATES, SearchQuery, exact_title_first, fuse  # noqa: E402


def retrieve(name: str, home: Path, queries_path: Path, qrels_path: Path, cache: Path | None) -> dict:
    """``{"keys": {doc_id: document key}, "queries": {qid: {"bm25": [[doc_id, score]...], "semantic":
    [...], "exact": [doc_id...]}}}`` for the judged queries of one set (doc ids, so that ties break
    as in the index; keys are what the qrels name)."""
    target = cache / f"{name}.json" if cache else None
    if target and target.exists():
        return json.loads(target.read_text())
    from index.embedded import EmbeddedIndex
    from index.embedding import Embedder

    settings = load_settings(home=str(home))
    embedder = Embedder(settings.embedding)
    index = EmbeddedIndex(settings.index_path, embedder.dimension)
    texts, judgments = read_queries(queries_path), read_qrels(qrels_path)
    judged = {q.query_id for q in judgments if q.relevance > 0}
    # cut as eval search cuts them (index.evaluation.fit_query), so both score the same queries
    texts = {qid: fit_query(t) for qid, t in texts.items() if qid in judged}
    keys = {doc_id: document_key(url) for doc_id, url in index._db.execute("SELECT id, url FROM documents")}
    out: dict = {"keys": keys, "queries": {}}
    vectors = embedder.encode(list(texts.values()), "query")
    for (qid, text), vector in zip(texts.items(), vectors):
        try:
            query = SearchQuery(text=text, mode="hybrid", limit=DEPTH)
        except ValueError:  # as eval search: a query SearchQuery refuses finds nothing
            out["queries"][qid] = {"bm25": [], "semantic": [], "exact": []}
            continue
        with index._reading():  # what EmbeddedIndex.search does for hybrid, without fusing
            snap = index._snapshot()
            exact = index._exact_title_ids(snap, query, None)
            try:
                docs, scores, _ = index._bm25(snap, query, None, None)
            except ValueError:
                docs, scores = [], []
            bm25 = [[snap.names[d], float(s)] for d, s in zip(list(docs[:CANDIDATES]), list(scores[:CANDIDATES]))]
            semantic, _ = index._semantic(snap, vector, None)
        out["queries"][qid] = {"bm25": bm25, "semantic": [[d, s] for d, s in semantic], "exact": sorted(exact)}
    index.close()
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out))
    return out


def evaluate(lists: dict, qrels: list, mode: str, hybrid: HybridSettings | None = None) -> dict:
    """nDCG@10 and recall@100 of one fusion over a set's cached lists."""
    run = []
    for qid, got in lists["queries"].items():
        bm25 = [(k, s) for k, s in got["bm25"]]
        semantic = [(k, s) for k, s in got["semantic"]]
        ranked = fuse(mode, bm25, semantic, hybrid)
        if mode == "hybrid":
            ranked = exact_title_first(ranked, set(got["exact"]))
        run += [ir_measures.ScoredDoc(qid, lists["keys"][doc_id], float(DEPTH - rank))
                for rank, (doc_id, _) in enumerate(ranked[:DEPTH])]
    figures = score_run(qrels, run)
    return {"ndcg@10": figures["ndcg@10"], "recall@100": figures["recall@100"], "queries": figures["queries"]}


def named_configs(configured: HybridSettings) -> dict[str, tuple[str, HybridSettings | None]]:
    """The configurations of the short table: label -> (mode, hybrid settings)."""
    return {
        "bm25": ("bm25", None),
        "semantic": ("semantic", None),
        "rrf_k60": ("hybrid", HybridSettings(method="rrf", rrf_k=60, semantic_weight=0.5)),
        "configured": ("hybrid", configured),
        "convex_minmax_05": ("hybrid", HybridSettings(method="convex", semantic_weight=0.5, normalisation="minmax")),
        "convex_zscore_05": ("hybrid", HybridSettings(method="convex", semantic_weight=0.5, normalisation="zscore")),
        "convex_tm2c2_05": ("hybrid", HybridSettings(method="convex", semantic_weight=0.5,
                                                      normalisation="theoretical")),
        # the picks of the two tuning rounds in README "Hybrid fusion" (not the configured default)
        "tuned_scifact": ("hybrid", HybridSettings(method="convex", semantic_weight=0.9, normalisation="theoretical")),
        "tuned_scifact_cisi_a": ("hybrid", HybridSettings(method="convex", semantic_weight=0.45,
                                                          normalisation="zscore")),
    }


def sweep_configs() -> dict[str, HybridSettings]:
    """The grid of ``--sweep``: label -> hybrid settings."""
    grid: dict[str, HybridSettings] = {}
    for k in (1, 5, 10, 20, 40, 60, 100):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7):
            grid[f"rrf k={k} w={w}"] = HybridSettings(method="rrf", rrf_k=k, semantic_weight=w)
    for norm in ("minmax", "zscore", "theoretical"):
        for step in range(1, 20):
            w = round(step * 0.05, 2)
            grid[f"convex {norm} w={w}"] = HybridSettings(method="convex", semantic_weight=w, normalisation=norm)
    return grid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", nargs=4, action="append", required=True, metavar=("NAME", "HOME", "QUERIES", "QRELS"),
                        help="a query set: name, data directory with an embedded index, queries file, qrels file")
    parser.add_argument("--sweep", action="store_true", help="also print the grid of RRF and convex settings")
    parser.add_argument("--cache", type=Path, default=None, help="keep and reuse each set's retrieved lists here")
    parser.add_argument("--json", type=Path, default=None, help="write flat figures here")
    args = parser.parse_args()
    report = JsonReport("bench_fusion", args.json)
    configured = load_settings().search.hybrid
    print(f"configured search.hybrid: {configured.model_dump()}")
    sets = {}
    for name, home, queries, qrels in args.set:
        sets[name] = (retrieve(name, Path(home), Path(queries), Path(qrels), args.cache), read_qrels(Path(qrels)))
    names = list(sets)
    print(f"\n{'configuration':<28}" + "".join(f"{n + ' nDCG@10':>22}{'R@100':>8}" for n in names))
    for label, (mode, hybrid) in named_configs(configured).items():
        row = f"{label:<28}"
        for name, (lists, qrels) in sets.items():
            figures = evaluate(lists, qrels, mode, hybrid)
            row += f"{figures['ndcg@10']:>22.3f}{figures['recall@100']:>8.3f}"
            report.add(f"{name}_{label}_ndcg10", figures["ndcg@10"], f"nDCG@10 of {label} on {name}")
            report.add(f"{name}_{label}_recall100", figures["recall@100"], f"recall@100 of {label} on {name}")
            report.add(f"{name}_queries", figures["queries"], f"judged queries scored in {name}")
        print(row)
    if args.sweep:
        print(f"\n{'sweep':<28}" + "".join(f"{n + ' nDCG@10':>22}{'R@100':>8}" for n in names))
        best: dict[str, tuple[float, str]] = {}
        for label, hybrid in sweep_configs().items():
            row = f"{label:<28}"
            for name, (lists, qrels) in sets.items():
                figures = evaluate(lists, qrels, "hybrid", hybrid)
                row += f"{figures['ndcg@10']:>22.3f}{figures['recall@100']:>8.3f}"
                if figures["ndcg@10"] > best.get(name, (-1.0, ""))[0]:
                    best[name] = (figures["ndcg@10"], label)
            print(row)
        for name, (value, label) in best.items():
            print(f"best on {name}: {label} (nDCG@10 {value:.3f})")
    if args.json:
        report.write(parser, args, ignore=("json", "cache", "set"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
