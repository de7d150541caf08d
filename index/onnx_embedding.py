"""ONNX Runtime backend for the embedder (``embedding.backend: onnx``).

Only the model's transformer (sentence-transformers module 0) runs in ONNX Runtime; everything
around it is the loaded :class:`sentence_transformers.SentenceTransformer` itself, so the vectors
follow the model's own configuration:

* tokenisation and truncation: ``SentenceTransformer.preprocess`` (the model's tokenizer, cut at
  ``max_seq_length`` from ``sentence_bert_config.json``, 256 word pieces for all-MiniLM-L6-v2);
* pooling and normalisation: the model's remaining modules as listed in ``modules.json``
  (for all-MiniLM-L6-v2 ``Pooling`` with ``1_Pooling/config.json`` = mean of the token embeddings
  under the attention mask, then ``Normalize`` = L2), run on the ONNX token embeddings.

The export (built once per model and cached, see :func:`cache_folder`):

1. ``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``: the dynamo exporter needs
   ``onnxscript``, which is not installed) of the Hugging Face model with eager attention, dynamic
   batch and sequence axes, opset 17;
2. ``onnxruntime.transformers.optimizer.optimize_model`` fuses BERT-family graphs (embedding +
   LayerNorm, multi-head attention, GELU, skip + LayerNorm) -- hardware-independent ``opt_level=1``;
3. for ``onnx_quantize: int8``: ``onnxruntime.quantization.quantize_dynamic`` with int8 weights per
   output channel (activations quantised at run time; per-tensor weights lost too much: cosine 0.86
   to 0.97 against torch on real passages, per-channel about 0.99), one sensitive product kept in
   float32 (:data:`KEEP_FLOAT`).

int8 caveat: activations are quantised per batch at run time, so an int8 vector moves slightly with
its batch mates (cosine above 0.99 to the same text embedded alone); float32 vectors do not.

Each build is checked against the torch model on fixed probe sentences before it is used
(float32: cosine >= 0.9999; int8: >= 0.98); a fused graph that fails the check is replaced by the
unfused export. The cache lives in ``embedding.onnx_cache_dir`` (default
``<home>/models/onnx/<model-name>-<fingerprint>/``); the fingerprint covers every file of the
source model folder and the versions of torch, transformers, onnx and onnxruntime, so a changed
model (or stack) gets a new export. Builds are serialised with a file lock, so two processes that
race build it once.

OpenVINO (``embedding.backend: openvino``): the same float32 export, read and compiled for the CPU
by the OpenVINO runtime (``openvino.Core.compile_model``) instead of ONNX Runtime. OpenVINO's CPU
plugin runs the matrix products in bfloat16 on CPUs with bfloat16 units (Intel AMX, AVX512-BF16)
when ``embedding.precision`` is ``bfloat16`` (``INFERENCE_PRECISION_HINT``: bf16; accumulation and
LayerNorm stay float32), and in float32 otherwise. The compiled model is checked on the probe
sentences like any build (float32 >= 0.9999, bfloat16 >= :data:`MIN_COSINE_OPENVINO` ``bfloat16``).

Packages: ``onnxruntime`` and ``onnx`` (the exporter and the quantiser need ``onnx``); ``openvino``
for the OpenVINO runtime.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np

from index.embedding import add_files, model_files

EXPORT_RECIPE = 2
"""Version of the export steps above; bump it when they change so that old caches are rebuilt."""

FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
MANIFEST_FILE = "manifest.json"
MIN_COSINE = {"none": 0.9999, "int8": 0.98}
"""Lowest probe cosine against torch accepted for a build, by ``onnx_quantize``."""
MIN_COSINE_OPENVINO = {"float32": 0.9999, "bfloat16": 0.998}
"""Lowest probe cosine against torch accepted for the OpenVINO-compiled model, by ``embedding.precision``
(bfloat16 keeps 8 bits of mantissa; measured 0.99997 on SciFact passages with all-MiniLM-L6-v2)."""
RUNTIMES = ("onnxruntime", "openvino")

PROBE_TEXTS = [
    "Joint discharge teams",
    "The council and the hospital trust pooled their budgets to fund a shared discharge team.",
    "An evaluation of a partnership between schools, youth services and the police found fewer "
    "exclusions in the second year, although the authors warn that the comparison group was small.",
    " ".join(["Local authorities shared data on housing, health and social care to plan services."] * 30),
]
"""Project-authored probe sentences of mixed lengths (one past ``max_seq_length``) for the build check."""


logger = logging.getLogger(__name__)


class OnnxUnavailable(RuntimeError):
    """``embedding.backend: onnx`` was asked for but the ONNX model cannot be built or loaded here.
    The message says what failed and what to do (install a package, fix the cache folder, or set
    ``embedding.backend: torch``)."""


def _advice(what: str) -> str:
    return (f"{what}. Fix that, or set embedding.backend: torch (EVIDENCE_HUB_EMBEDDING__BACKEND=torch) "
            "to embed with sentence-transformers directly")


def source_fingerprint(model_path: Path) -> str:
    """SHA-256 (hex) of the model folder's files (names and contents; ``onnx/``, ``openvino/`` and
    ``.git/`` sub-folders left out), :data:`EXPORT_RECIPE` and the versions of torch, transformers,
    onnx and onnxruntime. Any change gives another cache folder, so the export is rebuilt."""
    import onnxruntime
    import torch
    import transformers

    try:
        import onnx
        onnx_version = onnx.__version__
    except ImportError:
        onnx_version = "missing"
    digest = hashlib.sha256()
    digest.update(json.dumps({"recipe": EXPORT_RECIPE, "torch": torch.__version__, "transformers": transformers.__version__,
                              "onnx": onnx_version, "onnxruntime": onnxruntime.__version__}).encode())
    return add_files(digest, Path(model_path), model_files(Path(model_path))).hexdigest()


def cache_folder(cache_dir: Path, model_name: str, fingerprint: str) -> Path:
    """``<cache_dir>/<model-name>-<first 16 hex of the fingerprint>``; the name is the configured
    model name (or folder name), lower-cased, anything but ``[a-z0-9._-]`` replaced by ``-``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", Path(model_name).name.lower()).strip("-.") or "model"
    return Path(cache_dir) / f"{slug}-{fingerprint[:16]}"


class _DropQuantiserAdvice(logging.Filter):
    """onnxruntime.quantization logs 'Please consider to run pre-processing' on the root logger at
    each call; shape-inference pre-processing made no difference here, so the line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Please consider to run pre-processing")


def _transformer_module(st):
    """Module 0 of the SentenceTransformer if it is a text feature-extraction Transformer whose
    output is the model's ``last_hidden_state``; raises OnnxUnavailable otherwise."""
    first = st[0]
    config = getattr(first, "modality_config", {}).get("text", {})
    if (not hasattr(first, "auto_model") or config.get("method") != "forward"
            or config.get("method_output_name") != "last_hidden_state"):
        raise OnnxUnavailable(_advice(f"the onnx backend supports models whose first module is a text "
                                      f"Transformer giving last_hidden_state; this model's is {first!r}"))
    return first


def _export_fp32(st, path: Path) -> list[str]:
    """Export the transformer of ``st`` to ``path`` (float32, dynamic batch and sequence); returns
    the input names (those of ``st.preprocess`` that the model takes, e.g. input_ids,
    attention_mask, token_type_ids). Output: ``last_hidden_state`` (batch, sequence, hidden)."""
    import copy

    import torch

    first = _transformer_module(st)
    model = copy.deepcopy(first.auto_model).eval().to("cpu")
    if hasattr(model, "set_attn_implementation"):
        try:  # the eager attention graph is the one ORT's optimizer knows how to fuse
            model.set_attn_implementation("eager")
        except Exception:  # noqa: BLE001 - keep the model's own attention; the check below still applies
            pass
    sample = st.preprocess(PROBE_TEXTS[:2])
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs)), return_dict=True).last_hidden_state

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_LastHiddenState(model), tuple(sample[n].to("cpu") for n in names), str(path),
                          dynamo=False, input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, do_constant_folding=True)
    return names


def _fuse(st, source: Path, target: Path) -> dict:
    """Fuse a BERT-family graph with ``onnxruntime.transformers.optimizer``; returns the fused
    operator counts ({} when the architecture is not one the optimizer knows)."""
    config = st[0].auto_model.config
    if getattr(config, "model_type", "") not in {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"}:
        return {}
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(source), model_type="bert", num_heads=int(config.num_attention_heads),
                               hidden_size=int(config.hidden_size), opt_level=1)
    optimized.save_model_to_file(str(target))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


KEEP_FLOAT = re.compile(r"layer\.0/output/dense/MatMul$")
"""Nodes left in float32 by the int8 build: the first layer's feed-forward output projection, whose
inputs have the widest outlier range (Bondarenko et al. 2021, "Understanding and Overcoming the
Challenges of Efficient Transformer Quantization", EMNLP). Measured on all-MiniLM-L6-v2: lowest
cosine to torch on short sentences 0.988 -> 0.990, on SciFact passages 0.992 -> 0.994, for about
1/18 of the quantised matrix products kept in float32."""


def _quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation (onnxruntime.quantization.quantize_dynamic): int8 weights per output
    channel, every quantisable operator (fused Attention included) except :data:`KEEP_FLOAT`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = [node.name for node in onnx.load(str(source), load_external_data=False).graph.node
            if KEEP_FLOAT.search(node.name or "")]
    drop = _DropQuantiserAdvice()
    logging.getLogger().addFilter(drop)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=keep, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.getLogger().removeFilter(drop)


def _session(path: Path, threads: int):
    """An ONNX Runtime CPU session: ``threads`` intra-op threads (the torch backend's count), no
    spin-waiting (the ingest pipeline shares the cores with extraction workers)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _OpenVinoSession:
    """An ONNX file compiled by the OpenVINO runtime for the CPU, with ONNX Runtime's ``run`` call shape.

    Args:
        path: the float32 .onnx file (the model's transformer; output ``last_hidden_state``).
        threads: inference threads (``INFERENCE_NUM_THREADS``).
        precision: ``float32`` or ``bfloat16`` (``INFERENCE_PRECISION_HINT`` f32 / bf16; on a CPU
            without bfloat16 units OpenVINO runs float32 whatever the hint).
    Raises:
        ImportError: the ``openvino`` package is missing; ``RuntimeError`` from OpenVINO when the
        file cannot be read or compiled.
    Not thread-safe (one infer request): callers serialise, as :class:`index.embedding.Embedder` does.
    """

    def __init__(self, path: Path, threads: int, precision: str):
        import openvino

        core = openvino.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "bf16" if precision == "bfloat16" else "f32"}
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))

    def run(self, output_names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs named ``output_names`` (arrays, float32) for the inputs ``feed`` (name -> int64 array)."""
        results = self.request.infer(feed)
        return [np.array(results[self.compiled.output(name)], dtype=np.float32) for name in output_names]


class OnnxEncoder:
    """The transformer of a loaded SentenceTransformer, run by ONNX Runtime (see the module docstring).

    Args:
        st: the loaded ``sentence_transformers.SentenceTransformer`` (tokenizer, pooling, normalise).
        model_path: its local folder (fingerprinted for the cache).
        model_name: the configured model name (names the cache folder).
        cache_dir: folder holding the exports (created if missing).
        quantize: ``"int8"`` or ``"none"`` (ONNX Runtime only; OpenVINO runs the float32 export).
        runtime: ``"onnxruntime"`` or ``"openvino"`` (see the module docstring).
        precision: OpenVINO's inference precision, ``"float32"`` or ``"bfloat16"`` (ignored by ONNX Runtime).
    Attributes:
        folder: the cache folder used; ``path``: the .onnx file run; ``built_now``: True when this
        call exported or quantised (False when everything came from the cache); ``manifest``: the
        build record (versions, fused operators, probe cosines); ``probe_cosine``: the lowest probe
        cosine of the OpenVINO-compiled model against torch (None with ONNX Runtime).
    Raises:
        OnnxUnavailable: the export, quantisation, check or loading failed, or the ``openvino`` package
        is missing (the message says why and what to do).
        ValueError: an unknown ``quantize``, ``runtime`` or ``precision``, or OpenVINO with int8.
    """

    def __init__(self, st, model_path: Path, model_name: str, cache_dir: Path, quantize: str = "int8",
                 runtime: str = "onnxruntime", precision: str = "float32"):
        if quantize not in MIN_COSINE:
            raise ValueError(f"quantize must be one of {sorted(MIN_COSINE)}, not {quantize!r}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        if precision not in MIN_COSINE_OPENVINO:
            raise ValueError(f"precision must be one of {', '.join(MIN_COSINE_OPENVINO)}, not {precision!r}")
        if runtime == "openvino" and quantize != "none":
            raise ValueError("the openvino runtime runs the float32 export: quantize must be 'none'")
        import torch

        self.st = st
        self.quantize = quantize
        self.runtime = runtime
        self.precision = precision
        self.probe_cosine: float | None = None
        self.threads = max(1, torch.get_num_threads())
        if runtime == "openvino":
            try:
                import openvino  # noqa: F401
            except ImportError:
                raise OnnxUnavailable(_advice("embedding.backend 'openvino' needs the 'openvino' package "
                                              "(pip install openvino)")) from None
        try:
            import onnx  # noqa: F401 - torch.onnx.export and the quantiser need it
        except ImportError:
            raise OnnxUnavailable(_advice("embedding.backend 'onnx' needs the 'onnx' package to export the model "
                                          "(pip install onnx)")) from None
        self.folder = cache_folder(Path(cache_dir), model_name, source_fingerprint(model_path))
        self.built_now = False
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self._build()
            self.manifest = json.loads((self.folder / MANIFEST_FILE).read_text())
            self.input_names = list(self.manifest["input_names"])
            self.path = self.folder / (INT8_FILE if quantize == "int8" else FP32_FILE)
            if runtime == "openvino":
                self.session = self._openvino_session()
            else:
                self.session = _session(self.path, self.threads)
        except OnnxUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure gets the same advice
            raise OnnxUnavailable(_advice(
                f"could not build or load the ONNX export of {model_name!r} in {self.folder} "
                f"({exc.__class__.__name__}: {exc}); check that embedding.onnx_cache_dir "
                f"({cache_dir}) is a writable folder and that the packages onnx and onnxruntime are installed"
            )) from exc

    def _openvino_session(self) -> _OpenVinoSession:
        """Compile the float32 export with OpenVINO and check it on the probe sentences."""
        session = _OpenVinoSession(self.path, self.threads, self.precision)
        self.probe_cosine = self._probe_cosine(session, self.input_names)
        floor = MIN_COSINE_OPENVINO[self.precision]
        if self.probe_cosine < floor:
            raise OnnxUnavailable(_advice(f"the OpenVINO-compiled model ({self.precision}) does not reproduce the "
                                          f"torch model (probe cosine {self.probe_cosine:.6f} < {floor}); "
                                          "try embedding.precision: float32"))
        logger.info("OpenVINO model compiled: %s, inference precision %s, probe cosine %.6f",
                    self.path, session.precision, self.probe_cosine)
        return session

    def _build(self) -> None:
        """Build what is missing (float32 export, then int8) under a file lock; atomic renames."""
        from filelock import FileLock

        fp32 = self.folder / FP32_FILE
        int8 = self.folder / INT8_FILE
        if fp32.exists() and (self.quantize != "int8" or int8.exists()):
            return
        with FileLock(str(self.folder) + ".lock"):
            if not fp32.exists():
                self._build_fp32()
            if self.quantize == "int8" and not int8.exists():
                self._build_int8()

    def _build_fp32(self) -> None:
        tmp = self.folder.with_name(f"{self.folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            raw = tmp / "export.onnx"
            names = _export_fp32(self.st, raw)
            fused = tmp / "fused.onnx"
            stats = _fuse(self.st, raw, fused)
            chosen, cosine = raw, None
            if stats:
                cosine = self._probe_cosine(fused, names)
                if cosine >= MIN_COSINE["none"]:
                    chosen = fused
                else:
                    logger.warning("fused ONNX graph off by cosine %.6f; using the unfused export", cosine)
                    stats = {}
            if chosen is raw:
                cosine = self._probe_cosine(raw, names)
            if cosine < MIN_COSINE["none"]:
                raise OnnxUnavailable(_advice(f"the ONNX export does not reproduce the torch model "
                                              f"(probe cosine {cosine:.6f} < {MIN_COSINE['none']})"))
            os.replace(chosen, tmp / FP32_FILE)
            for leftover in ("export.onnx", "fused.onnx"):
                (tmp / leftover).unlink(missing_ok=True)
            import onnxruntime
            import torch
            import transformers

            manifest = {"recipe": EXPORT_RECIPE, "input_names": names, "fused_operators": stats,
                        "probe_cosine": {"none": round(float(cosine), 6)},
                        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                     "onnxruntime": onnxruntime.__version__},
                        "max_seq_length": int(self.st.max_seq_length)}
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
            if self.folder.exists():  # a half-built folder from a crash: replace it
                shutil.rmtree(self.folder)
            os.replace(tmp, self.folder)
            self.built_now = True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _build_int8(self) -> None:
        names = json.loads((self.folder / MANIFEST_FILE).read_text())["input_names"]
        tmp = self.folder / f"{INT8_FILE}.tmp-{os.getpid()}"
        try:
            _quantize_int8(self.folder / FP32_FILE, tmp)
            cosine = self._probe_cosine(tmp, names)
            if cosine < MIN_COSINE["int8"]:
                raise OnnxUnavailable(_advice(f"int8 quantisation loses too much of this model (probe cosine "
                                              f"{cosine:.4f} < {MIN_COSINE['int8']}); set embedding.onnx_quantize: none"))
            manifest_path = self.folder / MANIFEST_FILE
            manifest = json.loads(manifest_path.read_text())
            manifest["probe_cosine"]["int8"] = round(float(cosine), 6)
            manifest_tmp = manifest_path.with_name(f"{MANIFEST_FILE}.tmp-{os.getpid()}")
            manifest_tmp.write_text(json.dumps(manifest, indent=2))
            os.replace(tmp, self.folder / INT8_FILE)
            os.replace(manifest_tmp, manifest_path)
            self.built_now = True
        finally:
            tmp.unlink(missing_ok=True)

    def _probe_cosine(self, source, names: list[str]) -> float:
        """Lowest cosine between the torch model's embeddings of PROBE_TEXTS and those of ``source``:
        an ONNX file (run by ONNX Runtime) or an already loaded session (anything with ``run``)."""
        reference = self.st.encode(PROBE_TEXTS, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False)
        session = _session(source, self.threads) if isinstance(source, Path) else source
        vectors = self._run(session, names, PROBE_TEXTS)
        return float(np.min(np.sum(vectors * reference, axis=1)))

    def _run(self, session, names: list[str], texts: list[str]) -> np.ndarray:
        """One batch: tokenise (the model's preprocess), run ONNX, then the model's modules after
        the transformer (pooling, normalise). Returns float32 (len(texts), dim), L2-normalised."""
        import torch

        features = self.st.preprocess(texts)
        feed = {name: features[name].cpu().numpy().astype(np.int64, copy=False) for name in names}
        (hidden,) = session.run(["last_hidden_state"], feed)
        features["token_embeddings"] = torch.from_numpy(hidden)
        with torch.inference_mode():
            for module in list(self.st)[1:]:
                features = module(features)
        vectors = features["sentence_embedding"].float().cpu().numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed ``texts`` (longest first in batches of ``batch_size``, as sentence-transformers does,
        to pad little); returns float32 (len(texts), dim), L2-normalised, in the input order."""
        if not texts:
            raise ValueError("encode needs at least one text")
        order = np.argsort([-len(text) for text in texts], kind="stable")
        out: np.ndarray | None = None
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            vectors = self._run(self.session, self.input_names, [texts[i] for i in rows])
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out


_ENCODERS: dict[tuple, OnnxEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_onnx_encoder(st, model_path: Path, model_name: str, cache_dir: Path, quantize: str,
                     runtime: str = "onnxruntime", precision: str = "float32") -> OnnxEncoder:
    """The :class:`OnnxEncoder` for these arguments, built or loaded once per process and shared."""
    key = (id(st), str(model_path), str(cache_dir), quantize, runtime, precision)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = OnnxEncoder(st, model_path, model_name, cache_dir, quantize, runtime, precision)
        return _ENCODERS[key]
