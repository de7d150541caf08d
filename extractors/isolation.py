"""Run extraction in worker processes under a time and memory limit (pebble), so one
pathological file costs that file only: it is killed and recorded with a reason."""

from __future__ import annotations

import multiprocessing
import resource
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from config.settings import ExtractionSettings
from core.models import ExtractedDocument
from extractors.base import ExtractionError, extract


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _extract_in_worker(data: bytes, url: str, content_type: str, ocr: bool = False,
                       pdf_text: str = "pdfium") -> ExtractedDocument:
    try:
        return extract(data, url=url, content_type=content_type, ocr=ocr, pdf_text=pdf_text)
    except MemoryError:
        raise ExtractionError("extraction ran out of its memory limit") from None


class ExtractionPool:
    """A pool of extraction worker processes.

    ``submit`` returns a future; ``result(future)`` returns the ExtractedDocument or raises
    ExtractionError with a clear reason (timeout, worker crash, bad file).
    """

    def __init__(self, settings: ExtractionSettings):
        self.settings = settings
        # spawn, not fork: a forked child would inherit the parent's address space (torch is
        # large) and hit the memory limit at once; a fresh interpreter imports extractors only.
        self.pool = ProcessPool(max_workers=settings.workers, max_tasks=200,
                                initializer=_limit_memory, initargs=(settings.memory_mb,),
                                context=multiprocessing.get_context("spawn"))

    def submit(self, data: bytes, *, url: str, content_type: str = "") -> Future:
        """Schedule extraction of ``data``; the worker is killed after ``timeout_s`` seconds."""
        return self.pool.schedule(_extract_in_worker,
                                  args=(data, url, content_type, self.settings.ocr, self.settings.pdf_text),
                                  timeout=self.settings.timeout_s)

    def result(self, future: Future) -> ExtractedDocument:
        """Wait for a submitted extraction. Raises ExtractionError on any failure."""
        try:
            return future.result()
        except ExtractionError:
            raise
        except FutureTimeout:
            raise ExtractionError(f"extraction took longer than {self.settings.timeout_s:g} s; worker killed") from None
        except ProcessExpired as exc:
            raise ExtractionError(f"extraction worker died (exit code {exc.exitcode}); file skipped") from None
        except MemoryError:
            raise ExtractionError(f"extraction exceeded {self.settings.memory_mb} MiB; worker stopped") from None
        except Exception as exc:  # noqa: BLE001 - any library error is this document's failure
            raise ExtractionError(f"extractor error: {exc.__class__.__name__}: {exc}") from None

    def close(self) -> None:
        """Stop the workers."""
        self.pool.stop()
        self.pool.join(timeout=10)

    def __enter__(self) -> "ExtractionPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
