"""The resources one ingestion run shares: settings, registry, fetcher, robots, index, models."""

from __future__ import annotations

from functools import cached_property

from classify.zero_shot import ZeroShotClassifier
from config.settings import Settings
from config.taxonomy import Taxonomy, load_taxonomy
from crawl.fetch import Fetcher
from crawl.registry import Registry
from crawl.robots import RobotsPolicy
from extractors.isolation import ExtractionPool
from index.embedded import EmbeddedIndex
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
        fetcher = Fetcher(self.settings.fetch, delay_for=delay)
        self._closers.append(fetcher.close)
        return fetcher

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence-transformers embedder."""
        return Embedder(self.settings.embedding)

    @cached_property
    def index(self) -> EmbeddedIndex:
        """The search index backend chosen by settings."""
        index = EmbeddedIndex(self.settings.index_path, self.embedder.dimension)
        self._closers.append(index.close)
        return index

    @cached_property
    def classifier(self) -> ZeroShotClassifier:
        """The zero-shot classifier over the taxonomy."""
        return ZeroShotClassifier(self.taxonomy, self.embedder, self.settings.classification)

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
