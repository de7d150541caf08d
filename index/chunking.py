"""Chunking: split page texts into overlapping word windows that keep their page number."""

from __future__ import annotations

from core.models import Chunk, Page


def chunk_pages(pages: list[Page], *, max_words: int, overlap_words: int) -> list[Chunk]:
    """Split pages into chunks of at most ``max_words`` words, ``overlap_words`` shared between
    neighbours within a page. A chunk never spans two pages, so a hit can point at its page.

    Raises ValueError when ``overlap_words >= max_words``.
    """
    if overlap_words >= max_words:
        raise ValueError("overlap_words must be smaller than max_words")
    chunks: list[Chunk] = []
    step = max_words - overlap_words
    for page in pages:
        words = page.text.split()
        if not words:
            continue
        start = 0
        while True:
            window = words[start:start + max_words]
            chunks.append(Chunk(ordinal=len(chunks), text=" ".join(window), page=page.number))
            if start + max_words >= len(words):
                break
            start += step
    return chunks
