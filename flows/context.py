"""The resources one ingestion run shares: settings, registry, fetcher, robots, index, models."""

from __future__ import annotations

from functools import cached_property

from classify.classifier import TaxonomyClassifier
from config.settings import Settings
from config.taxonomy import Taxonomy, load_taxonomy
from crawl.fetch import Fetcher
from crawl.registry import Registry
from crawl.robots import RobotsPolicy
from extractors.isolation import ExtractionPool
from index.backend import EmbeddingModelId, SearchIndex
from index.embedding import Embedder


class HubContext:
    """Lazily opened resources for one process. Close with :meth:`close`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._closers: list = []

    @cached_property
    def taxonomy(self) -> Taxonomy:
        """The validated taxonomy."""
        return load_taxonomy(self.settings.taxonomy_file)

    @cached_property
    def registry(self) -> Registry:
        """The document registry / frontier."""
        registry = Registry(self.settings.registry_path)
        self._closers.append(registry.close)
        return registry

    @cached_property
    def robots(self) -> RobotsPolicy:
        """robots.txt policy, fetched through an unthrottled fetcher of its own."""
        robots_fetcher = Fetcher(self.settings.fetch.model_copy(update={"retries": 1}))
        self._closers.append(robots_fetcher.close)
        return RobotsPolicy(self.settings.fetch.user_agent, robots_fetcher.fetch_robots)

    @cached_property
    def fetcher(self) -> Fetcher:
        """The politeness-aware fetcher (Crawl-delay from robots.txt when set)."""
        delay = self.robots.crawl_delay if self.settings.fetch.obey_robots else None
        cfg = self.settings.fetch
        fetcher = Fetcher(cfg, delay_for=delay, per_host_concurrency=cfg.per_host_concurrency,
                          max_retry_wait_s=cfg.max_retry_wait_s, backoff_initial_s=cfg.backoff_initial_s,
                          backoff_max_s=cfg.backoff_max_s)
        self._closers.append(fetcher.close)
        return fetcher

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence-transformers embedder."""
        return Embedder(self.settings.embedding)

    @cached_property
    def index(self) -> SearchIndex:
        """The search index backend chosen by ``settings.index.backend``."""
        index = open_index(self.settings, self.embedder.dimension, self.embedder.model_id)
        self._closers.append(index.close)
        return index

    @cached_property
    def classifier(self) -> TaxonomyClassifier:
        """The classifier over the taxonomy (zero-shot, or the trained model per ``classification.method``)."""
        return TaxonomyClassifier(self.taxonomy, self.embedder, self.settings.classification,
                                  model_path=self.settings.classifier_model_path)

    @cached_property
    def extraction_pool(self) -> ExtractionPool:
        """Worker processes for extraction."""
        pool = ExtractionPool(self.settings.extraction)
        self._closers.append(pool.close)
        return pool

    def close(self) -> None:
        """Close everything that was opened, newest first."""
        while self._closers:
            self._closers.pop()()


def open_index(settings: Settings, dimension: int, embedding_model: EmbeddingModelId | None = None) -> SearchIndex:
    """Open the configured index backend for embeddings of size ``dimension`` written by
    ``embedding_model`` (recorded by a new index, checked against an existing one).

    Raises IndexMismatch when the index holds another dimension or model; opensearch-py's errors
    when the cluster cannot be reached.
    """
    if settings.index.backend == "opensearch":
        from index.opensearch import OpenSearchIndex

        cfg = settings.index.opensearch
        return OpenSearchIndex(
            hosts=cfg.hosts, dimension=dimension, index_prefix=cfg.index_prefix, username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None, verify_certs=cfg.verify_certs,
            ca_certs=str(cfg.ca_certs) if cfg.ca_certs else None, timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries, hybrid=settings.search.hybrid, embedding_model=embedding_model,
        )
    from index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_path, dimension, hybrid=settings.search.hybrid, embedding_model=embedding_model)
