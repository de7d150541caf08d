"""Re-label every indexed document from its stored chunks and embeddings (no fetch, no extraction).

Used by ``evidence-hub reclassify`` after the taxonomy, the thresholds or the trained model change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from classify.classifier import KINDS, TaxonomyClassifier
from index.backend import SearchIndex
from index.embedding import Embedder

BATCH = 32


@dataclass
class RelabelSummary:
    """Counts of a reclassification: documents seen, documents whose labels changed, and per kind
    how many documents carry at least one label afterwards."""

    documents: int = 0
    changed: int = 0
    labelled: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KINDS})
    skipped: list[str] = field(default_factory=list)


def _label_ids(doc) -> tuple:
    return tuple(tuple(label.id for label in getattr(doc, kind)) for kind in KINDS)


def reclassify_index(index: SearchIndex, classifier: TaxonomyClassifier, embedder: Embedder,
                     progress: Callable[[int, int], None] | None = None) -> RelabelSummary:
    """Classify every document of ``index`` again and write the new labels back.

    Documents are rewritten in batches of ``BATCH`` through ``upsert_many`` with their stored chunks
    and vectors (the title vector is re-encoded, a few milliseconds per title). ``progress(done,
    total)`` is called after each batch. Documents without chunks keep their labels and are listed
    in ``skipped``.
    """
    summary = RelabelSummary()
    ids = index.ids()
    pending = []

    def flush() -> None:
        titles = [doc.title for doc, _, _ in pending if doc.title]
        title_vectors = iter(embedder.encode(titles, "document")) if titles else iter(())
        index.upsert_many([(doc, chunks, vectors, next(title_vectors) if doc.title else None)
                           for doc, chunks, vectors in pending])
        pending.clear()

    for position, doc_id in enumerate(ids, start=1):
        doc = index.get(doc_id)
        if doc is None:
            continue
        chunks, vectors = index.chunks_of(doc_id)
        summary.documents += 1
        if not chunks:
            summary.skipped.append(doc_id)
            continue
        result = classifier.classify([c.text for c in chunks], vectors, doc.language)
        updated = doc.model_copy(update={kind: getattr(result, kind) for kind in KINDS})
        if _label_ids(updated) != _label_ids(doc):
            summary.changed += 1
        for kind in KINDS:
            summary.labelled[kind] += bool(getattr(updated, kind))
        pending.append((updated, chunks, vectors))
        if len(pending) >= BATCH:
            flush()
            if progress:
                progress(position, len(ids))
    if pending:
        flush()
    if progress:
        progress(len(ids), len(ids))
    return summary
