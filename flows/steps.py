"""The per-document steps of ingestion, each a plain function over a HubContext.

``fetch_and_extract`` covers robots -> fetch -> change detection -> dedupe -> extract and runs in
worker threads; ``index_document`` covers chunk -> embed -> classify -> load and runs in one
thread (the index has one writer). Both return an :class:`Outcome`; neither raises for a bad
document: the reason is recorded instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal
from urllib.parse import urlsplit

from config.sources import Source
from core.models import (
    Chunk, DiscoveredURL, ExtractedDocument, Failure, FetchResult, FieldProvenance, IndexedDocument, content_hash,
    document_id,
)
from crawl.fetch import Fetched, FetchError
from crawl.jsonl import JsonlRecord, extracted_from
from crawl.registry import ReportValidators, UrlRecord
from crawl.urls import canonical_target, file_name_of, host_of
from extractors.base import ExtractionError, extraction_fingerprint, extraction_outdated
from extractors.landing import fuse_landing_page
from flows.context import HubContext
from index.chunking import chunk_pages

OutcomeState = Literal["extracted", "unchanged", "duplicate", "skipped", "failed", "indexed"]


@dataclass
class Outcome:
    """What happened to one URL in a run."""

    url: str
    doc_id: str
    state: OutcomeState
    fetched: bool = False
    not_modified: bool = False
    failure: Failure | None = None
    extracted: ExtractedDocument | None = None
    content_hash: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    canonical: str | None = None
    reason: str | None = None
    retryable: bool = False  # a transient fetch failure (429, 5xx, transport): worth a task retry
    report: ReportValidators | None = None  # a landing page fused with the report it links (its content hash is the report's)
    page_hash: str | None = None  # such a landing page's own content hash (an unchanged page and report are skipped)
    replaced: str | None = None  # the URL of a report indexed on its own that this fused document replaced

    @property
    def report_url(self) -> str | None:
        """The URL of the report fused into this landing page, or None."""
        return self.report.url if self.report else None


def _failed(url: str, doc_id: str, stage: str, reason: str, fetched: bool = False) -> Outcome:
    return Outcome(url=url, doc_id=doc_id, state="failed", fetched=fetched,
                   failure=Failure(url=url, stage=stage, reason=reason))


def fetch_and_extract(ctx: HubContext, source: Source, item: DiscoveredURL) -> Outcome:
    """Fetch one discovered URL and extract it unless unchanged, duplicate or not allowed.

    A jsonl source's record is neither fetched nor extracted (see :func:`jsonl_record`).
    Never raises for a bad URL or response: anything unexpected becomes this URL's failure."""
    try:
        if source.kind == "jsonl":
            return jsonl_record(ctx, source, item)
        return _fetch_and_extract(ctx, source, item)
    except Exception as exc:  # noqa: BLE001 - one URL's problem must not end the run
        reason = f"unexpected error: {exc.__class__.__name__}: {exc}"
        try:
            ctx.registry.mark(item.url, "failed", stage="fetch", reason=reason)
        except Exception:  # noqa: BLE001 - the URL may not even be in the registry
            pass
        return _failed(item.url, document_id(item.url), "fetch", reason)


def discovery_fetch(ctx: HubContext, source: Source) -> Callable[[str], FetchResult]:
    """The fetch used to read ``source``'s sitemaps, feeds and listing pages: robots.txt obeyed,
    allowed domains only, and conditional (a resource that came with an ETag or Last-Modified is
    kept in the registry; a 304 answer gives the kept copy back).

    The returned function raises FetchError (e.g. "disallowed by robots.txt") like the fetcher.
    """
    def fetch(url: str) -> FetchResult:
        if ctx.settings.fetch.obey_robots:
            allowed, why = ctx.robots.can_fetch(url)
            if not allowed:
                raise FetchError(f"{why}: {url}")
        cached = ctx.registry.cached_resource(url)
        result = ctx.fetcher.get(url, etag=cached.etag if cached else None,
                                 last_modified=cached.last_modified if cached else None, allow_host=source.allows_host)
        if result.not_modified and cached is not None:
            return Fetched(url=url, final_url=cached.final_url, status=304, content=cached.body,
                           content_type=cached.content_type or "", etag=result.etag,
                           last_modified=result.last_modified, not_modified=True)
        if result.etag or result.last_modified:
            ctx.registry.store_resource(url, final_url=result.final_url, etag=result.etag,
                                        last_modified=result.last_modified, content_type=result.content_type,
                                        body=result.content)
        return result

    return fetch


def jsonl_record(ctx: HubContext, source: Source, item: DiscoveredURL) -> Outcome:
    """A jsonl source's record (read by discovery) as an extracted outcome, or ``unchanged`` when
    the index holds it with the same content hash. A URL re-queued from the registry whose record
    the file no longer holds is ``skipped``."""
    url = item.url
    ctx.registry.enqueue(source.name, url, document_id(url))
    doc_id = document_id(url)
    if not isinstance(item, JsonlRecord):
        reason = f"record no longer in {source.path}"
        ctx.registry.mark(url, "skipped", stage="extract", reason=reason)
        return Outcome(url=url, doc_id=doc_id, state="skipped", reason=reason)
    common = dict(url=url, doc_id=doc_id, content_hash=item.digest)
    if ctx.index.content_hash_of(doc_id) == item.digest:
        ctx.registry.mark_indexed(url, content_hash=item.digest, etag=None, last_modified=None)
        return Outcome(state="unchanged", **common)
    # the record's own link (when it has one) is kept among the document's URLs
    return Outcome(state="extracted", extracted=extracted_from(item), final_url=item.record_url, **common)


def _refusal(ctx: HubContext, source: Source, url: str) -> str | None:
    """Why ``url`` must not be fetched for ``source`` (None when it may be)."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return None if source.kind == "directory" else "refused: file: URLs are only read from directory sources"
    if scheme not in ("http", "https"):
        return f"refused: scheme {scheme!r} is not http or https"
    host = host_of(url)
    if not source.allows_host(host):
        return f"refused: host {host or '(none)'} is outside the source's allowed domains"
    try:
        ctx.fetcher.addresses.check(host)
    except FetchError as exc:
        return exc.reason
    return None


def _metadata_only(ctx: HubContext, doc_id: str) -> bool:
    """True when the index keeps ``doc_id`` as metadata only (a PDF without a text layer)."""
    stored = ctx.index.get(doc_id)
    return stored is not None and "metadata_only" in stored.quality.flags


def _fetch_and_extract(ctx: HubContext, source: Source, item: DiscoveredURL) -> Outcome:
    url = item.url
    registry = ctx.registry
    registry.enqueue(source.name, url, document_id(url))
    record = registry.get(url)
    doc_id = record.doc_id if record is not None else document_id(url)  # a canonical link may have moved it
    refusal = _refusal(ctx, source, url)
    if refusal:
        registry.mark(url, "failed", stage="fetch", reason=refusal)
        return _failed(url, doc_id, "fetch", refusal)
    if not url.startswith("file:") and ctx.settings.fetch.obey_robots:
        allowed, why = ctx.robots.can_fetch(url)
        if not allowed:
            registry.mark(url, "skipped", stage="robots", reason=why)
            return Outcome(url=url, doc_id=doc_id, state="skipped", reason=why)
    # Conditional GET only when what the registry remembers is really in the index (a lost or
    # switched index must be refilled, not answered with 304s).
    # A recorded duplicate is known only while its twin still holds the same content in the
    # index: once the twin changes, the copy's bytes are in no document and must be indexed.
    # A document extracted with other settings than today's (extraction.pdf_text switched) is read
    # again: fetched in full and extracted even when its bytes are unchanged.
    # (whatever its state: a re-read that failed is tried again, not taken as unchanged next time;
    # a duplicate has no document of its own to read)
    outdated = record is not None and record.state != "duplicate" and extraction_outdated(
        record.extracted_with, ctx.settings.extraction.pdf_text)
    known = record is not None and not outdated and (
        (record.state == "indexed" and ctx.index.content_hash_of(doc_id) is not None)
        or (record.state == "duplicate" and record.content_hash is not None
            and registry.indexed_with_hash(record.content_hash, other_than=url) is not None))
    if known and record.state == "indexed" and ctx.settings.extraction.ocr and _metadata_only(ctx, doc_id):
        known = False  # kept as metadata only (no text layer) and OCR is on now: read it again
    replaced_report = None  # a fused page's report fetched in full because it changed behind a 304 page
    try:
        result = ctx.fetcher.get(url, etag=record.etag if known else None,
                                 last_modified=record.last_modified if known else None,
                                 allow_host=source.allows_host, allow_files=source.kind == "directory")
        if result.not_modified and known and record.report is not None and ctx.settings.extraction.fuse_landing_pages:
            replaced_report = _changed_report(ctx, source, record)
            if replaced_report is not None:  # the page is as it was, its report is not: read both again
                result = ctx.fetcher.get(url, allow_host=source.allows_host, allow_files=source.kind == "directory")
    except FetchError as exc:
        registry.mark(url, "failed", stage="fetch", reason=exc.reason)
        failed = _failed(url, doc_id, "fetch", exc.reason)
        failed.retryable = exc.retryable
        return failed
    registry.mark_fetched(url, etag=result.etag, last_modified=result.last_modified)
    if result.not_modified:
        return Outcome(url=url, doc_id=doc_id, state="unchanged", not_modified=True)
    digest = content_hash(result.content)
    canonical = None if url.startswith("file:") else canonical_target(url, result, source.allows_host)
    doc_id = document_id(canonical or url)
    if record is not None and record.doc_id != doc_id:
        registry.set_doc_id(url, doc_id)
    common = dict(url=url, doc_id=doc_id, fetched=True, content_hash=digest, etag=result.etag,
                  last_modified=result.last_modified, final_url=result.final_url, canonical=canonical)
    stored_hash = ctx.index.content_hash_of(doc_id)
    if stored_hash == digest and not outdated and not (ctx.settings.extraction.ocr and _metadata_only(ctx, doc_id)):
        registry.mark_indexed(url, content_hash=digest, etag=result.etag, last_modified=result.last_modified)
        return Outcome(state="unchanged", **common)
    # a fused landing page whose own bytes are unchanged is unchanged when its report is too
    fused_hash = stored_hash if (record is not None and not outdated and stored_hash is not None
                                 and record.page_hash == digest and record.content_hash == stored_hash) else None
    duplicate = _duplicate_of(ctx, Outcome(state="extracted", **common))
    if duplicate is not None:  # cheap early check; index_document makes the final one
        return duplicate
    try:
        future = ctx.extraction_pool.submit(result.content, url=url, content_type=result.content_type)
        extracted = ctx.extraction_pool.result(future)
    except ExtractionError as exc:
        registry.mark(url, "failed", stage="extract", reason=str(exc))
        return _failed(url, doc_id, "extract", str(exc), fetched=True)
    if extracted.report_url and ctx.settings.extraction.fuse_landing_pages:
        known_report = record.report if fused_hash is not None else None
        fused, report, report_hash, unavailable = _fuse_report(ctx, source, extracted, known_hash=fused_hash,
                                                               known_report=known_report, fetched=replaced_report)
        if (unavailable and outdated and record.report is not None and record.page_hash == digest
                and stored_hash is not None):
            # re-reading a fused document for new extraction settings, with its report out of reach
            # for now: the indexed document stands, and a later run tries again (the page's bytes
            # did not change, so nothing says the report is gone for good)
            reason = f"could not re-read the report {record.report.url} of this landing page: {unavailable}"
            registry.mark(url, "failed", stage="fetch", reason=reason)
            return _failed(url, doc_id, "fetch", reason, fetched=True)
        if report and fused is None:  # page and report as indexed: nothing to do
            registry.mark_indexed(url, content_hash=report_hash, etag=result.etag,
                                  last_modified=result.last_modified, page_hash=digest, report=report)
            return Outcome(state="unchanged", **(common | dict(content_hash=report_hash, report=report,
                                                                 page_hash=digest)))
        extracted = fused
        if report:  # the document's content is now the report's: a separate fetch of it is a duplicate
            common.update(content_hash=report_hash, report=report, page_hash=digest)
    minimum = ctx.settings.extraction.min_words
    if extracted.word_count < minimum and "metadata_only" not in extracted.quality.flags:
        reason = (f"only {extracted.word_count} words of text in this {extracted.mime} content "
                  f"(minimum {minimum}); nothing worth indexing")
        registry.mark(url, "failed", stage="extract", reason=reason)
        return _failed(url, doc_id, "extract", reason, fetched=True)
    return Outcome(state="extracted", extracted=extracted, **common)


def _report_refusal(ctx: HubContext, source: Source, report_url: str) -> str | None:
    """Why the report a landing page links must not be fetched (None when it may be)."""
    reason = _refusal(ctx, source, report_url)
    if reason is None and ctx.settings.fetch.obey_robots:
        allowed, why = ctx.robots.can_fetch(report_url)
        reason = None if allowed else why
    return reason


def _changed_report(ctx: HubContext, source: Source, record: UrlRecord) -> Fetched | None:
    """For an indexed fused landing page that answered 304: a conditional GET of its report with
    the report's own validators. Returns the report's response when its bytes differ from the
    indexed ones, else None (304, same bytes, or the report cannot be had now: the indexed document
    stands and the next run asks again). A FetchError of the report is not the page's failure:
    it is swallowed here, never raised."""
    report = record.report
    if _report_refusal(ctx, source, report.url) is not None:
        return None
    try:
        result = ctx.fetcher.get(report.url, etag=report.etag, last_modified=report.last_modified,
                                 allow_host=source.allows_host)
    except FetchError:
        return None
    if result.not_modified or content_hash(result.content) == record.content_hash:
        return None
    return result


def _fuse_report(ctx: HubContext, source: Source, page: ExtractedDocument, known_hash: str | None = None,
                 known_report: ReportValidators | None = None, fetched: Fetched | None = None,
                 ) -> tuple[ExtractedDocument | None, ReportValidators | None, str | None, str | None]:
    """Fetch and extract the PDF a landing page links (``page.report_url``) and fuse the two
    (:func:`extractors.landing.fuse_landing_page`). Returns (document, the report's URL and
    validators, report content hash, None); when the report's bytes hash to ``known_hash``, or it
    answers 304 to a conditional GET with ``known_report``'s validators (the page and its report
    are indexed as they are), nothing is extracted and (None, report, hash, None) comes back.
    ``fetched``: the report's response when the caller already has it. When the report cannot
    be had (refused, robots, fetch or extraction failure) the page stays a document of its own,
    flagged ``landing_page_report_unavailable``, and (page, None, None, why) comes back."""
    report_url = page.report_url
    reason = _report_refusal(ctx, source, report_url)
    if known_report is not None and known_report.url != report_url:
        known_report = None  # the page now links another report
    if reason is None:
        try:
            if fetched is not None and fetched.url == report_url:
                result = fetched
            else:
                result = ctx.fetcher.get(report_url, etag=known_report.etag if known_report else None,
                                         last_modified=known_report.last_modified if known_report else None,
                                         allow_host=source.allows_host)
            validators = ReportValidators(report_url, etag=result.etag, last_modified=result.last_modified)
            if result.not_modified and (known_report is None or known_hash is None):
                reason = "the linked report answered 304 Not Modified to a request that was not conditional"
            elif result.not_modified:  # a 304 need not repeat the validators: keep those it answered
                return None, ReportValidators(report_url, etag=result.etag or known_report.etag,
                                              last_modified=result.last_modified or known_report.last_modified
                                              ), known_hash, None
            elif known_hash is not None and content_hash(result.content) == known_hash:
                return None, validators, known_hash, None
            else:
                report = ctx.extraction_pool.result(ctx.extraction_pool.submit(
                    result.content, url=report_url, content_type=result.content_type))
                if report.mime != "application/pdf":
                    reason = f"the linked report is {report.mime}, not a PDF"
        except (FetchError, ExtractionError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
    if reason is not None:
        flags = [*page.quality.flags, "landing_page_report_unavailable"]
        return page.model_copy(update={"quality": page.quality.model_copy(update={"flags": flags})}), None, None, reason
    return fuse_landing_page(page, report), validators, content_hash(result.content), None


def build_document(source: Source, outcome: Outcome) -> IndexedDocument:
    """The index record for an extracted outcome (metadata fallbacks recorded in provenance)."""
    extracted = outcome.extracted
    provenance = dict(extracted.provenance)
    title = extracted.title
    if not title:
        title = file_name_of(outcome.url)
        provenance["title"] = FieldProvenance(source="url_file_name", confidence=0.2)
    publisher = extracted.publisher
    from_text = provenance.get("publisher") is not None and provenance["publisher"].source.startswith("pdf_text")
    if (not publisher or from_text) and source.publisher:  # the operator's word beats a guess from the text
        publisher = source.publisher
        provenance["publisher"] = FieldProvenance(source="source_config", confidence=0.9)
    url = outcome.canonical or outcome.url
    urls = [url] + [u for u in (outcome.url, outcome.final_url, outcome.report_url) if u and u != url]
    return IndexedDocument(
        id=outcome.doc_id, url=url, source=source.name, urls=list(dict.fromkeys(urls)),
        content_hash=outcome.content_hash, title=title, authors=extracted.authors, publisher=publisher,
        published_date=extracted.published_date, language=extracted.language, doi=extracted.doi,
        doc_type=extracted.doc_type,
        page_count=extracted.page_count, word_count=extracted.word_count, text=extracted.text,
        provenance=provenance, quality=extracted.quality,
    )


def _duplicate_of(ctx: HubContext, outcome: Outcome) -> Outcome | None:
    twin = ctx.registry.indexed_with_hash(outcome.content_hash, other_than=outcome.url)
    if twin is not None and outcome.report_url and twin.url == outcome.report_url and outcome.extracted is not None:
        # the report was indexed on its own before its landing page was read: the fused
        # document replaces it (removed first, so a kill in between loses nothing: the
        # landing page is not yet marked indexed and is processed again)
        ctx.index.delete(twin.doc_id)
        ctx.registry.mark_duplicate(twin.url, content_hash=outcome.content_hash, etag=twin.etag,
                                    last_modified=twin.last_modified,
                                    reason=f"fused into its landing page {outcome.url}")
        outcome.replaced = twin.url
        return None
    if twin is None:
        return None
    own_hash = ctx.index.content_hash_of(outcome.doc_id)
    if (outcome.doc_id != twin.doc_id and own_hash is not None and own_hash != outcome.content_hash
            and not ctx.registry.indexed_urls_of(outcome.doc_id, other_than=outcome.url)):
        # the URL used to serve other content, indexed under its own document: it serves a copy of
        # the twin now, so that document is out of date. Only the writer thread removes it (the early
        # check in a fetch thread passes it on); removed before the URL is marked a duplicate, so a
        # kill in between leaves the URL recorded as indexed without its document: fetched again.
        if outcome.extracted is None:
            return None
        ctx.index.delete(outcome.doc_id)
    reason = f"same content as {twin.url}"
    ctx.registry.mark_duplicate(outcome.url, content_hash=outcome.content_hash, etag=outcome.etag,
                                last_modified=outcome.last_modified, reason=reason)
    outcome.state, outcome.reason, outcome.extracted = "duplicate", reason, None
    return outcome


def index_document(ctx: HubContext, source: Source, outcome: Outcome) -> Outcome:
    """Chunk, embed, classify and load an extracted document; then mark it indexed.

    Runs in the single writer thread, so its duplicate check (same content hash as an indexed
    URL) is authoritative even when two copies were fetched at the same moment."""
    duplicate = _duplicate_of(ctx, outcome)
    if duplicate is not None:
        return duplicate
    try:
        doc = build_document(source, outcome)
        chunks = chunk_pages(outcome.extracted.pages, max_words=ctx.settings.chunking.max_words,
                             overlap_words=ctx.settings.chunking.overlap_words)
        if not chunks and "metadata_only" in doc.quality.flags:
            # no text layer: the title (metadata or file name) is the one passage to search
            chunks = [Chunk(ordinal=0, text=doc.title, page=1)]
        if len(chunks) > ctx.settings.chunking.max_chunks:  # bound one document's cost
            chunks = chunks[: ctx.settings.chunking.max_chunks]
            doc.quality.flags.append("truncated")
        vectors = ctx.embedder.encode([c.text for c in chunks], "document")
        title_vector = ctx.embedder.encode([doc.title], "document")[0] if doc.title else None
    except Exception as exc:  # noqa: BLE001 - one document's failure, recorded
        reason = f"embedding failed: {exc.__class__.__name__}: {exc}"
        ctx.registry.mark(outcome.url, "failed", stage="embed", reason=reason)
        return _failed(outcome.url, outcome.doc_id, "embed", reason, fetched=True)
    labels = ctx.classifier.classify([c.text for c in chunks], vectors, doc.language)
    doc.themes, doc.policy_areas, doc.evidence_types = labels.themes, labels.policy_areas, labels.evidence_types
    try:
        ctx.index.upsert(doc, chunks, vectors, title_vector)
    except Exception as exc:  # noqa: BLE001
        reason = f"index write failed: {exc.__class__.__name__}: {exc}"
        ctx.registry.mark(outcome.url, "failed", stage="index", reason=reason)
        return _failed(outcome.url, outcome.doc_id, "index", reason, fetched=True)
    ctx.registry.mark_indexed(outcome.url, content_hash=outcome.content_hash, etag=outcome.etag,
                              last_modified=outcome.last_modified, published=doc.published_date,
                              page_hash=outcome.page_hash, report=outcome.report,
                              extracted_with=extraction_fingerprint(outcome.extracted.mime,
                                                                    ctx.settings.extraction.pdf_text))
    outcome.state = "indexed"
    outcome.extracted = None
    return outcome
