"""Extraction: bytes in, text and metadata out. No network, no index (trafilatura's shape).

Use :func:`extractors.extract`; it sniffs the content and dispatches to the HTML or PDF path.
"""

from extractors.base import ExtractionError, extract, sniff_kind

__all__ = ["ExtractionError", "extract", "sniff_kind"]
