"""Settings: defaults in ``config/settings.yaml``, then ``--config FILE``, then environment.

Environment variables win over files. They use the prefix ``EVIDENCE_HUB_`` and ``__`` between
nested fields, e.g. ``EVIDENCE_HUB_FETCH__MIN_DELAY_S=0`` or ``EVIDENCE_HUB_INDEX__BACKEND=embedded``.
``EVIDENCE_HUB_HOME`` sets the data directory that holds all state (index, registry, caches).
"""

from __future__ import annotations

import ipaddress
import re
from contextvars import ContextVar
from pathlib import Path
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from config.errors import ConfigError, describe_validation_error, read_yaml

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_SETTINGS_FILE = CONFIG_DIR / "settings.yaml"
DEFAULT_HOME = Path("~/.local/share/evidence-hub").expanduser()


def _csv_or_json_list(value: Any) -> Any:
    """Environment lists may be written ``a,b`` or as JSON ``["a", "b"]``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                pass
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenSearchSettings(_Strict):
    """Connection to an OpenSearch cluster (used when ``index.backend`` is ``opensearch``).

    Put secrets in the environment, not in files: ``EVIDENCE_HUB_INDEX__OPENSEARCH__PASSWORD``.
    """

    hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["http://127.0.0.1:9200"], min_length=1)
    index_prefix: str = Field("evidence-hub", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    username: str | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    ca_certs: Path | None = None
    timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)

    @field_validator("hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        return _csv_or_json_list(value)


class IndexSettings(_Strict):
    """Which search index backend to use and where it keeps its data."""

    backend: Literal["embedded", "opensearch"] = "embedded"
    path: Path | None = Field(None, description="Embedded index file; default <home>/index.sqlite")
    opensearch: OpenSearchSettings = OpenSearchSettings()


class EmbeddingSettings(_Strict):
    """The sentence-transformers model: a packaged model name or a local model folder.

    ``backend`` picks what runs the model's transformer: ``torch`` (sentence-transformers as is),
    ``onnx`` (an ONNX export of the same model run by ONNX Runtime on the CPU, built once and cached
    in ``onnx_cache_dir``, default ``<home>/models/onnx``; see ``index/onnx_embedding.py``) or
    ``openvino`` (that float32 export compiled by the OpenVINO runtime for the CPU; package
    ``openvino``). ``onnx_quantize`` (onnx backend): ``int8`` (dynamic int8 weights, faster, cosine
    about 0.99 to torch) or ``none`` (float32, the same vectors as torch to about 1e-6).
    ``precision`` (torch and openvino backends): ``float32`` or ``bfloat16`` matrix products;
    bfloat16 is several times faster on CPUs with bfloat16 matrix units (Intel AMX / AVX512-BF16;
    measured in ``benchmarks/bench_embed.py``) and slower on CPUs without them; vectors stay
    float32, cosine about 0.998 to float32 or closer.
    ``threads``: torch intra-op threads (None: torch's default, one per core).
    """

    model: str = Field("all-MiniLM-L6-v2", min_length=1)
    batch_size: int = Field(32, ge=1, le=1024)
    device: str = "cpu"
    backend: Literal["torch", "onnx", "openvino"] = "torch"
    onnx_quantize: Literal["int8", "none"] = "int8"
    onnx_cache_dir: Path | None = Field(None, description="Where ONNX exports are cached; default <home>/models/onnx")
    precision: Literal["float32", "bfloat16"] = Field(
        "float32", description="torch and openvino backends: float32, or bfloat16 (fast on CPUs with "
                               "AMX/AVX512-BF16; cosine about 0.998 to float32 or closer)")
    threads: int | None = Field(None, ge=1, le=256, description="torch intra-op threads for embedding (None: torch's "
                                                                "default); 1 can be faster on a shared machine")


class ChunkingSettings(_Strict):
    """Chunk sizes in words (about 1.3 word pieces a word for English)."""

    max_words: int = Field(180, ge=20, le=2000)
    overlap_words: int = Field(30, ge=0)
    max_chunks: int = Field(3000, ge=1, description="Chunks kept per document (about 1,000 pages); the rest "
                                                     "is left out and the document flagged 'truncated'")

    @field_validator("overlap_words")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:
        size = info.data.get("max_words", 180)
        if value >= size:
            raise ValueError(f"must be smaller than max_words ({size})")
        return value


class FetchSettings(_Strict):
    """HTTP fetching limits and politeness."""

    user_agent: str = "EvidenceHubBot/0.1 (+https://github.com/evidence-hub; research crawler)"
    timeout_s: float = Field(30.0, gt=0, description="Total deadline for one fetch, seconds")
    max_bytes: int = Field(50_000_000, ge=1024, description="Body size cap, bytes")
    max_redirects: int = Field(5, ge=0, le=30)
    min_delay_s: float = Field(1.0, ge=0, description="Minimum delay between requests to one host")
    retries: int = Field(3, ge=0, le=10)
    concurrency: int = Field(4, ge=1, le=64)
    per_host_concurrency: int = Field(2, ge=1, le=64, description="Requests in flight to one host at once")
    max_retry_wait_s: float = Field(
        120.0, ge=0, description="Longest Retry-After / back-off pause waited for in a run; longer ones fail the URL "
                                 "with the reason and the host's other URLs wait for the next run")
    backoff_initial_s: float = Field(1.0, ge=0, description="First retry back-off (exponential with jitter)")
    backoff_max_s: float = Field(30.0, ge=0, description="Largest single retry back-off")
    obey_robots: bool = True
    allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDR ranges of private/loopback addresses that may be fetched (e.g. 127.0.0.1/32)",
    )

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        return _csv_or_json_list(value)

    @field_validator("allow_networks")
    @classmethod
    def _valid_cidr(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a CIDR range such as 127.0.0.0/8") from None
        return value


class ExtractionSettings(_Strict):
    """Extraction runs in worker processes that are killed past these limits."""

    timeout_s: float = Field(300.0, gt=0, description="Per-document extraction deadline, seconds")
    memory_mb: int = Field(2048, ge=256, description="Address-space limit per worker, MiB")
    workers: int = Field(2, ge=1, le=64)
    min_words: int = Field(20, ge=0, description="Fewer words than this: recorded as failure")
    ocr: bool = Field(False, description="Read image-only PDFs with Tesseract (needs the tesseract command, "
                                         "Debian package tesseract-ocr)")
    pdf_text: Literal["pdfminer", "pdfium"] = Field(
        "pdfium", description="Engine that reads PDF page texts: pdfminer (layout analysis of every page) or "
                                "pdfium (PDFium via pypdfium2, ~5.8x the pages/s; pdfminer still reads metadata and "
                                "lays out the first pages for the title, and reads the whole file when the engines "
                                "disagree). Switching it re-reads indexed PDFs on the next ingest")
    fuse_landing_pages: bool = Field(True, description="A landing page that links its report's PDF becomes one "
                                                        "document: the PDF's text with the page's metadata")


class ClassificationSettings(_Strict):
    """How documents get themes, policy areas and evidence types (classify/).

    ``method``: ``zero_shot`` (label profiles + keywords, no training data), ``supervised`` (the
    model written by ``evidence-hub train-classifier``; an error when it is missing) or ``auto``
    (the trained model when its file exists, else zero-shot). Zero-shot thresholds are in
    zero-shot score units (cosine similarity plus a keyword bonus, about 0..1.2).

    ``model_languages``: the languages the embedding model was trained on (all-MiniLM-L6-v2:
    English). A document whose detected language is another one gets its labels from the taxonomy's
    ``keywords_by_language`` for that language alone, whatever ``method`` says (its embeddings and
    the trained model's features are not meaningful), each marked uncertain.
    """

    method: Literal["auto", "zero_shot", "supervised"] = "auto"
    model_path: Path | None = Field(None, description="Trained model file; default <home>/models/classifier.joblib")
    theme_threshold: float = Field(0.44, ge=0, le=2)
    policy_area_threshold: float = Field(0.36, ge=0, le=2)
    evidence_type_threshold: float = Field(0.45, ge=0, le=2)
    relative_margin: float = Field(
        0.15, ge=0, le=2, description="A label must score within this of the document's best label of its kind")
    keyword_weight: float = Field(0.05, ge=0, le=1, description="Zero-shot bonus per log1p(keyword hits per 10k words)")
    keyword_cap: float = Field(0.2, ge=0, le=1, description="Largest zero-shot keyword bonus")
    scope_min_density: float = Field(
        1.0, ge=0, description="Zero-shot: scope keywords per 1,000 words that put a document in a kind's scope")
    scope_min_similarity: float = Field(
        0.4, ge=0, le=1, description="Zero-shot: or this cosine between the document's best chunks and the scope")
    review_margin: float = Field(0.05, ge=0, le=1, description="Scores within this of the threshold are 'uncertain'")
    max_labels: int = Field(4, ge=1, le=20, description="Most labels of one kind a document gets (the best-scoring "
                            "ones), unless max_labels_by_kind names the kind")
    max_labels_by_kind: dict[Literal["themes", "policy_areas", "evidence_types"],
                             Annotated[int, Field(ge=1, le=20)] | None] = Field(
        default_factory=dict, description="max_labels for single kinds, e.g. {themes: 6}; null: max_labels "
        "(files and variables merge into the shipped {themes: 6}, so {themes: null} is how to take it back)")
    model_languages: Annotated[list[str], NoDecode] = Field(
        ["en"], min_length=1, description="Languages (ISO 639-1) the embedding model reads. A document detected in "
        "another language for which the taxonomy has keywords_by_language is labelled from those alone, "
        "marked uncertain")
    keyword_only_threshold: float = Field(
        0.5, ge=0, le=1, description="Keyword-only labels (documents outside model_languages): the keyword bonus "
        "as a share of keyword_cap that assigns a label (0.5: about 0.6 keyword hits per 1,000 words)")
    keyword_only_relative: float = Field(
        0.5, ge=0, le=1, description="Keyword-only labels: a label also needs this share of the keyword hits "
        "of the document's best label of its kind (a document is mainly about a few things)")

    def max_labels_of(self, kind: str) -> int:
        """The most labels of ``kind`` (``themes``, ``policy_areas``, ``evidence_types``) a document
        gets: ``max_labels_by_kind[kind]``, else (absent or null) ``max_labels``."""
        return self.max_labels_by_kind.get(kind) or self.max_labels

    @field_validator("max_labels_by_kind", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        """YAML's ``yes``/``true`` would pass as the number 1: refuse them (a limit is a number)."""
        if isinstance(value, dict):
            for kind, limit in value.items():
                if isinstance(limit, bool):
                    raise ValueError(f"{kind}: a number of labels (1-20) or null, not {str(limit).lower()}")
        return value

    @field_validator("model_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        return _csv_or_json_list(value)

    @field_validator("model_languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*", item.strip()):
                raise ValueError(f"{item!r} is not a language code such as en, en-GB or de (ISO 639-1)")
        return [item.strip() for item in value]


class HybridSettings(_Strict):
    """How hybrid search fuses the BM25 and semantic document rankings (``index.query.fuse``; the
    same for every backend).

    ``rrf``: weighted reciprocal rank fusion, score = 2(1-w) / (k + BM25 rank) + 2w / (k + semantic
    rank) (Cormack, Clarke & Buettcher 2009; w = 0.5 is plain RRF). ``convex``: (1-w) * normalised
    BM25 score + w * normalised cosine (Bruch, Gai & Ingber 2023, "An Analysis of Fusion Functions
    for Hybrid Retrieval"), scores normalised per query by ``normalisation``. w is
    ``semantic_weight``. How the defaults were chosen: README, "Hybrid fusion".

    Before fusing, the semantic side's query vector takes pseudo-relevance feedback from BM25:
    q' = unit(q + ``feedback_weight`` * mean of the best BM25 passage vectors of the
    ``feedback_docs`` best BM25 documents) (Rocchio 1971, "Relevance feedback in information
    retrieval", applied to dense vectors as in Li et al. 2023, "Pseudo Relevance Feedback with Deep
    Language Models and Dense Retrievers: Successes and Pitfalls", ACM TOIS; here the feedback
    documents come from BM25). ``feedback_docs: 0`` turns it off. Semantic mode never uses it.
    """

    method: Literal["rrf", "convex"] = Field("rrf", description="rrf: weighted reciprocal rank fusion; convex: "
                                                                 "convex combination of normalised scores")
    rrf_k: float = Field(60.0, ge=0, le=1000, description="rrf only: the rank constant k (larger flattens the "
                                                           "difference between top ranks)")
    semantic_weight: float = Field(0.5, ge=0, le=1, description="Share of the semantic ranking in the fusion, 0..1 "
                                                                 "(0: BM25 only, 1: semantic only)")
    normalisation: Literal["minmax", "zscore", "theoretical"] = Field(
        "zscore", description="convex only: per-query score normalisation: minmax (observed min and max), zscore, "
                              "or theoretical (0 for BM25 / -1 for cosine up to the observed max)")
    feedback_docs: int = Field(3, ge=0, le=50, description="BM25 documents whose best passage feeds back into the "
                                                           "semantic query vector (0: no feedback)")
    feedback_weight: float = Field(0.3, ge=0, le=5, description="Rocchio weight of the feedback passages' mean "
                                                                "added to the query vector")


class SearchSettings(_Strict):
    """How searches rank documents."""

    hybrid: HybridSettings = HybridSettings()


class Settings(BaseSettings):
    """All settings of the hub. Build with :func:`load_settings`, not directly."""

    model_config = SettingsConfigDict(env_prefix="EVIDENCE_HUB_", env_nested_delimiter="__", extra="forbid")

    home: Path = DEFAULT_HOME
    sources_file: Path = CONFIG_DIR / "sources.yaml"
    taxonomy_file: Path = CONFIG_DIR / "taxonomy.yaml"
    index: IndexSettings = IndexSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    fetch: FetchSettings = FetchSettings()
    extraction: ExtractionSettings = ExtractionSettings()
    classification: ClassificationSettings = ClassificationSettings()
    search: SearchSettings = SearchSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: explicit overrides, then environment, then the YAML files.
        return (init_settings, env_settings, _FileLayers(settings_cls))

    @model_validator(mode="after")
    def _default_onnx_cache_dir(self) -> "Settings":
        """``embedding.onnx_cache_dir`` defaults to ``<home>/models/onnx`` (the Embedder only sees its block)."""
        if self.embedding.onnx_cache_dir is None:
            cache_dir = Path(self.home).expanduser() / "models" / "onnx"
            self.embedding = self.embedding.model_copy(update={"onnx_cache_dir": cache_dir})
        else:
            self.embedding = self.embedding.model_copy(
                update={"onnx_cache_dir": Path(self.embedding.onnx_cache_dir).expanduser()})
        return self

    @property
    def classifier_model_path(self) -> Path:
        """The trained classifier file: ``classification.model_path`` or ``<home>/models/classifier.joblib``."""
        path = self.classification.model_path
        return Path(path).expanduser() if path else self.home / "models" / "classifier.joblib"

    @property
    def index_path(self) -> Path:
        """The embedded index file: ``index.path`` or ``<home>/index.sqlite``."""
        return Path(self.index.path).expanduser() if self.index.path else self.home / "index.sqlite"

    @property
    def registry_path(self) -> Path:
        """The document registry / crawl frontier: ``<home>/registry.sqlite``."""
        return self.home / "registry.sqlite"


_FILE_VALUES: ContextVar[dict] = ContextVar("evidence_hub_file_settings", default={})


class _FileLayers(PydanticBaseSettingsSource):
    """The merged YAML settings files of the :func:`load_settings` call in progress."""

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ is used instead
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _FILE_VALUES.get()


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_paths(data: dict, relative_to: Path) -> dict:
    """Make relative file paths in a settings file relative to that file's folder."""
    data = dict(data)
    for key in ("sources_file", "taxonomy_file", "home"):
        if isinstance(data.get(key), str):
            path = Path(data[key]).expanduser()
            data[key] = str(path if path.is_absolute() else (relative_to / path))
    return data


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings: packaged defaults < ``config_file`` < environment < ``overrides``.

    Nested values merge (an override of ``fetch.min_delay_s`` keeps the other ``fetch`` fields).

    Args:
        config_file: optional YAML file with any subset of the settings.
        overrides: values that win over everything (used by tests and the demo).
    Raises:
        ConfigError: naming the file (or ``environment``), the field and the problem.
    """
    layers: list[tuple[Path, dict]] = [(DEFAULT_SETTINGS_FILE, read_yaml(DEFAULT_SETTINGS_FILE))]
    if config_file is not None:
        path = Path(config_file).expanduser().resolve()
        layers.append((path, _resolve_paths(read_yaml(path), path.parent)))
    merged: dict = {}
    for path, data in layers:
        try:  # validate each file alone so an error names the file that holds it
            _FileOnly.model_validate(data)
        except ValidationError as exc:
            raise describe_validation_error(str(path), exc) from None
        merged = _merge(merged, data)
    if overrides:
        try:
            _FileOnly.model_validate(overrides)
        except ValidationError as exc:
            raise describe_validation_error("overrides", exc) from None
    token = _FILE_VALUES.set(merged)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise describe_validation_error("environment (EVIDENCE_HUB_* variables)", exc) from None
    except SettingsError as exc:  # pydantic-settings could not parse a variable (nested values are JSON)
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise ConfigError(f"environment (EVIDENCE_HUB_* variables): {exc}{cause}; a variable for a nested or "
                          "list setting holds JSON, e.g. EVIDENCE_HUB_CLASSIFICATION__MAX_LABELS_BY_KIND="
                          "'{\"themes\": 6}'") from None
    finally:
        _FILE_VALUES.reset(token)
    settings.home = settings.home.expanduser()
    return settings


class _FileOnly(BaseModel):
    """Settings as read from one file, without environment variables."""

    model_config = ConfigDict(extra="forbid")
    home: Path | None = None
    sources_file: Path | None = None
    taxonomy_file: Path | None = None
    index: IndexSettings | None = None
    embedding: EmbeddingSettings | None = None
    chunking: ChunkingSettings | None = None
    fetch: FetchSettings | None = None
    extraction: ExtractionSettings | None = None
    classification: ClassificationSettings | None = None
    search: SearchSettings | None = None


__all__ = ["Settings", "load_settings", "ConfigError", "DEFAULT_HOME", "CONFIG_DIR"]
