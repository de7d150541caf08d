"""``evidence-hub``: ingest sources, search the index, debug extraction, run the demo."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import typer
from rich.markup import escape

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # default 20 s fails under load
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from cli.common import (  # noqa: E402
    ConfigOption, HubGroup, console, err, error_messages, load_cli_settings, load_cli_taxonomy,
)

app = typer.Typer(help="Evidence Hub: turn published evidence into a searchable evidence base.", cls=HubGroup,
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
from cli.classify_cmds import eval_app, reclassify, train_classifier  # noqa: E402
from cli.ops_cmds import retry_failed, schedule_app, status  # noqa: E402

from cli.eval_search_cmd import eval_search  # noqa: E402

eval_app.command("search")(eval_search)
app.add_typer(eval_app, name="eval")
app.command("train-classifier")(train_classifier)
app.command("reclassify")(reclassify)
from cli.serve_cmd import serve  # noqa: E402

app.command("serve")(serve)
app.add_typer(schedule_app, name="schedule")
app.command("status")(status)
app.command("retry-failed")(retry_failed)
_settings = load_cli_settings


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def adhoc_sources(directory: Optional[Path], sitemap: Optional[str], feed: Optional[str], urls: list[str]):
    """Sources given on the command line; names are stable so re-runs update, not duplicate."""
    from config.sources import Source

    found = []
    if directory is not None:
        folder = directory.expanduser().resolve()
        found.append(Source(name=f"dir-{_slug(folder.name)}-{hashlib.sha1(str(folder).encode()).hexdigest()[:6]}",
                            kind="directory", path=folder))
    if sitemap:
        found.append(Source(name=f"sitemap-{_slug(urlsplit(sitemap).netloc)}", kind="sitemap", url=sitemap))
    if feed:
        found.append(Source(name=f"feed-{_slug(urlsplit(feed).netloc)}", kind="feed", url=feed))
    if urls:
        found.append(Source(name="urls-" + hashlib.sha1(" ".join(sorted(urls)).encode()).hexdigest()[:8],
                            kind="urls", urls=urls))
    return found


SUMMARY_FIELDS = ("discovered", "fetched", "not_modified", "unchanged", "duplicates", "extracted", "indexed",
                  "skipped", "failed")


def print_summary(summary) -> None:
    """Print a run summary and each failure with its URL and reason."""
    from rich.table import Table

    table = Table(title="Run summary", show_header=False)
    table.add_column("count")
    table.add_column("value", justify="right")
    for name in SUMMARY_FIELDS:
        table.add_row(name.replace("_", " "), str(getattr(summary, name)))
    console.print(table)
    hosts = getattr(summary, "hosts", None) or {}
    if hosts:
        per_host = Table(title="Hosts")
        for column in ("host", "requests", "retries", "429", "5xx", "timeouts", "errors", "back-off s", "paused until"):
            per_host.add_column(column, justify="left" if column in ("host", "paused until") else "right")
        for host, stats in sorted(hosts.items()):
            paused = stats.paused_until.strftime("%H:%M:%S") if stats.paused_until else ""
            per_host.add_row(host, str(stats.requests), str(stats.retries), str(stats.throttled),
                             str(stats.server_errors), str(stats.timeouts), str(stats.transport_errors),
                             f"{stats.backoff_s:.1f}", paused)
        console.print(per_host)
    if summary.failures:
        console.print("[bold]Not indexed, with reasons:[/bold]")
        for failure in summary.failures:
            console.print(f"  [yellow]{failure.stage}[/yellow] {escape(failure.url)}\n      {escape(failure.reason)}",
                          emoji=False, markup=True)


@app.command()
def ingest(
    source: list[str] = typer.Option([], "--source", help="Name of a source in sources.yaml (repeatable)"),
    directory: Optional[Path] = typer.Option(None, "--directory", help="Ingest a local folder of PDF/HTML files"),
    sitemap: Optional[str] = typer.Option(None, "--sitemap", help="Ingest the pages of a sitemap URL"),
    feed: Optional[str] = typer.Option(None, "--feed", help="Ingest the items of an RSS/Atom feed URL"),
    url: list[str] = typer.Option([], "--url", help="Ingest these URLs (repeatable)"),
    config: Optional[Path] = ConfigOption,
    json_out: bool = typer.Option(False, "--json", help="Print the run summary as JSON"),
) -> None:
    """Crawl, extract, classify, embed and index sources (a Prefect flow; no server needed)."""
    from config import ConfigError, load_sources

    from pydantic import ValidationError

    settings = _settings(config)
    try:
        sources = adhoc_sources(directory, sitemap, feed, url)
    except (ValidationError, ValueError) as exc:
        err.print("[red]bad source on the command line:[/red] " + escape(error_messages(exc)))
        raise typer.Exit(2) from None
    if not sources:
        try:
            catalogue = load_sources(settings.sources_file)
        except ConfigError as exc:
            err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
            raise typer.Exit(2) from None
        by_name = {s.name: s for s in catalogue}
        unknown = [n for n in source if n not in by_name]
        if unknown:
            err.print(f"[red]unknown source(s): {', '.join(unknown)}[/red]; known: {', '.join(sorted(by_name))}")
            raise typer.Exit(2)
        sources = [by_name[n] for n in source] if source else [s for s in catalogue if s.enabled]
    from flows.ingest import run_ingest

    summary = run_ingest(sources, settings, console=None if json_out else console)
    if json_out:
        print(summary.model_dump_json(indent=2))
    else:
        print_summary(summary)
    unreadable = [f for f in summary.failures if f.stage == "discover" and f.reason.startswith("source ")]
    if unreadable:  # a whole source could not be read: the run did not do what was asked
        raise typer.Exit(1)


def _search(settings, text: str, mode: str, filters: dict, limit: int, **options):
    from flows.context import HubContext
    from index.query import SearchFilters, SearchQuery

    query = SearchQuery(text=text, mode=mode, filters=SearchFilters(**filters), limit=limit,
                        **{k: v for k, v in options.items() if v is not None})
    ctx = HubContext(settings)
    try:
        if settings.index.backend == "embedded" and not settings.index_path.exists():
            return None
        vector = ctx.embedder.encode([text], "query")[0] if mode != "bm25" else None
        return ctx.index.search(query, vector)
    finally:
        ctx.close()


def print_results(response) -> None:
    """Print ranked hits: title, publisher, date, labels and a highlighted snippet."""
    if not response.hits:
        console.print("No results.")
        return
    for rank, hit in enumerate(response.hits, start=1):
        meta = " · ".join(x for x in (hit.publisher, str(hit.published_date or ""), hit.doc_type) if x)
        console.print(f"[bold]{rank}. {escape(hit.title or '(untitled)')}[/bold]  [dim]{escape(meta)}[/dim]")
        labels = [f"{l.id} {l.label}{'?' if l.uncertain else ''}"
                  for l in hit.policy_areas + hit.themes + hit.evidence_types]
        if labels:
            console.print(f"   [cyan]{escape('; '.join(labels))}[/cyan]")
        snippet = escape(" ".join(hit.snippet.split())).replace("&lt;mark&gt;", "[reverse]").replace(
            "&lt;/mark&gt;", "[/reverse]")
        snippet = snippet.replace("<mark>", "[reverse]").replace("</mark>", "[/reverse]")
        page = f" (p. {hit.page})" if hit.page and hit.page > 1 else ""
        console.print(f"   {snippet}{page}")
        console.print(f"   [link={hit.url}]{escape(hit.url)}[/link]")


@app.command()
def search(
    query: str = typer.Argument(..., help='Query: words, "exact phrases", AND/OR/NOT, prefix*, title:word'),
    mode: str = typer.Option("hybrid", "--mode", help="bm25 | semantic | hybrid"),
    theme: Optional[str] = typer.Option(None, "--theme", help="Theme id, e.g. T4"),
    policy_area: Optional[str] = typer.Option(None, "--policy-area", help="Policy area id, e.g. P1"),
    evidence_type: Optional[str] = typer.Option(None, "--evidence-type", help="Evidence type id, e.g. E3"),
    source: Optional[str] = typer.Option(None, "--source", help="Source name"),
    publisher: Optional[str] = typer.Option(None, "--publisher"),
    doc_type: Optional[str] = typer.Option(None, "--doc-type"),
    language: Optional[str] = typer.Option(None, "--language"),
    year_from: Optional[int] = typer.Option(None, "--year-from"),
    year_to: Optional[int] = typer.Option(None, "--year-to"),
    limit: int = typer.Option(10, "--limit", min=1, max=1000),
    sort: str = typer.Option("relevance", "--sort", help="relevance | date (newest first)"),
    facet: list[str] = typer.Option([], "--facet", help="Count values of: theme, policy_area, evidence_type, "
                                    "publisher, year, doc_type, language, source (repeatable, or comma-separated)"),
    cursor: Optional[str] = typer.Option(None, "--cursor", help="next_cursor of the previous page (--json)"),
    config: Optional[Path] = ConfigOption,
    json_out: bool = typer.Option(False, "--json", help="One JSON object with a results list"),
) -> None:
    """Search the index and print ranked documents."""
    from pydantic import ValidationError

    if mode not in ("bm25", "semantic", "hybrid"):
        err.print(f"[red]--mode must be bm25, semantic or hybrid, not {mode!r}[/red]")
        raise typer.Exit(2)
    settings = _settings(config)
    filters = dict(theme=theme, policy_area=policy_area, evidence_type=evidence_type, source=source,
                   publisher=publisher, doc_type=doc_type, language=language, year_from=year_from, year_to=year_to)
    unknown = load_cli_taxonomy(settings).unknown_filter_ids(filters)
    if unknown:
        for name, message in unknown.items():
            err.print(f"[red]--{name.replace('_', '-')}:[/red] {escape(message)}")
        raise typer.Exit(2)
    try:
        facets = [name.strip() for value in facet for name in value.split(",") if name.strip()]  # as the API
        response = _search(settings, query, mode, filters, limit, sort=sort, facets=facets or None, cursor=cursor)
    except (ValidationError, ValueError) as exc:
        err.print(f"[red]bad query:[/red] {escape(error_messages(exc))}")
        raise typer.Exit(2) from None
    if response is None:
        err.print(f"[red]no index at {settings.index_path}[/red]; run `evidence-hub ingest` first")
        raise typer.Exit(1)
    if json_out:
        results = [hit.model_dump(mode="json") for hit in response.hits]
        facets = {name: [v.model_dump() for v in values] for name, values in response.facets.items()}
        print(json.dumps({"query": query, "mode": mode, "total": response.total, "results": results,
                          "facets": facets, "next_cursor": response.next_cursor}, indent=2, ensure_ascii=False))
    else:
        print_results(response)
        for name, values in response.facets.items():
            console.print(f"[bold]{name}[/bold]: " + ", ".join(f"{escape(v.value)} ({v.count})" for v in values))


@app.command()
def extract(
    target: str = typer.Argument(..., help="A file path or an http(s) URL"),
    config: Optional[Path] = ConfigOption,
    json_out: bool = typer.Option(False, "--json"),
    ocr: bool = typer.Option(False, "--ocr", help="Read image-only PDFs with Tesseract (as extraction.ocr: true)"),
) -> None:
    """Show what the hub extracts from one file or URL (to debug a source)."""
    from crawl.fetch import Fetcher, FetchError
    from extractors import ExtractionError
    from extractors import extract as run_extract

    settings = _settings(config)
    try:
        if target.startswith(("http://", "https://")):
            with Fetcher(settings.fetch) as fetcher:
                result = fetcher.get(target)
            data, content_type, url = result.content, result.content_type, result.final_url
        else:
            path = Path(target).expanduser()
            data, content_type, url = path.read_bytes(), "", path.resolve().as_uri()
        doc = run_extract(data, url=url, content_type=content_type, ocr=ocr or settings.extraction.ocr,
                          pdf_text=settings.extraction.pdf_text)
    except (FetchError, ExtractionError, OSError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if json_out:
            print(json.dumps({"error": reason, "target": target}))
        else:
            err.print(f"[red]cannot extract {escape(target)}:[/red] {escape(reason)}")
        raise typer.Exit(1) from None
    payload = {
        "text": doc.text, "title": doc.title, "authors": doc.authors, "publisher": doc.publisher,
        "published_date": doc.published_date.isoformat() if doc.published_date else None,
        "language": doc.language, "doc_type": doc.doc_type, "canonical_url": doc.canonical_url, "doi": doc.doi,
        "page_count": doc.page_count, "word_count": doc.word_count, "quality": doc.quality.model_dump(),
        "provenance": {k: v.model_dump() for k, v in doc.provenance.items()},
    }
    if json_out:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for key, value in payload.items():
            if key != "text":
                console.print(f"[bold]{key}[/bold]: {escape(str(value))}")
        console.print(f"[bold]text[/bold] ({doc.word_count} words):\n{escape(doc.text[:1500])}")


@app.command()
def show(
    target: str = typer.Argument(..., help="A document id (as search results give it) or one of its URLs"),
    full_text: bool = typer.Option(False, "--text", help="Include the whole stored text (default: its first 1,500 characters)"),
    json_out: bool = typer.Option(False, "--json", help="Print the stored document as JSON"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """An indexed document as stored: metadata, labels with scores and evidence, quality flags and
    provenance (where each field came from, e.g. provenance.text.source: the engine that read it).

    Exits 1 when the index holds no such document."""
    from core.models import document_id
    from crawl.urls import canonical_url
    from flows.context import HubContext

    settings = _settings(config)
    if settings.index.backend == "embedded" and not settings.index_path.exists():
        err.print(f"[red]no index at {escape(str(settings.index_path))}[/red]; run `evidence-hub ingest` first")
        raise typer.Exit(1)
    ctx = HubContext(settings)
    try:
        doc = ctx.index.get(target) or ctx.index.get(document_id(target))
        if doc is None and "://" in target and settings.registry_path.exists():
            try:  # another URL of it, e.g. the PDF of a landing page it was fused with
                doc_ids = ctx.registry.documents_at(canonical_url(target))
            except ValueError:  # not a URL after all (e.g. "http://[bad")
                doc_ids = []
            for doc_id in doc_ids:
                doc = ctx.index.get(doc_id)
                if doc is not None:
                    break
    finally:
        ctx.close()
    if doc is None:
        err.print(f"[red]no indexed document {escape(target)}[/red] (give an id from `evidence-hub search --json` "
                  "or the document's URL)")
        raise typer.Exit(1)
    payload = doc.model_dump(mode="json")
    if not full_text:
        payload["text"] = doc.text[:1500]
    if json_out:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for key, value in payload.items():
        if key in ("text", "provenance"):
            continue
        if key in ("themes", "policy_areas", "evidence_types"):
            value = ", ".join(f"{label['id']} {label['score']:.2f}" + (" (uncertain)" if label.get("uncertain") else "")
                              for label in value) or "none"
        console.print(f"[bold]{key}[/bold]: {escape(str(value))}")
    console.print("[bold]provenance[/bold]:")
    for field, origin in payload["provenance"].items():
        console.print(f"  {field}: {escape(origin['source'])} (confidence {origin['confidence']})")
    console.print(f"[bold]text[/bold] ({doc.word_count} words):\n{escape(payload['text'])}")


@app.command()
def sources(config: Optional[Path] = ConfigOption) -> None:
    """List the configured sources."""
    from config import ConfigError, load_sources

    settings = _settings(config)
    try:
        catalogue = load_sources(settings.sources_file)
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None
    for s in catalogue:
        where = s.url or (str(s.path) if s.path else ", ".join(s.urls))
        console.print(f"{'✓' if s.enabled else '·'} [bold]{s.name}[/bold] ({s.kind}) {escape(where)}")


@app.command()
def reindex(
    config: Optional[Path] = ConfigOption,
    drop_old: bool = typer.Option(False, "--drop-old", help="Delete versions no longer behind an alias"),
) -> None:
    """OpenSearch: build the next index version, switch the aliases atomically (zero downtime)."""
    settings = _settings(config)
    if settings.index.backend != "opensearch":
        err.print("[red]reindex applies to the opensearch backend[/red]; the embedded index is updated in place "
                  "(set index.backend: opensearch or EVIDENCE_HUB_INDEX__BACKEND=opensearch)")
        raise typer.Exit(2)
    from flows.context import HubContext

    ctx = HubContext(settings)
    try:
        before = ctx.index.stats()
        version = ctx.index.reindex()
        console.print(f"aliases now point at version {version} ({before['documents']} documents, "
                      f"{before['chunks']} chunks); the previous version is kept")
        if drop_old:
            dropped = ctx.index.drop_old_versions()
            console.print(f"dropped: {', '.join(dropped) or 'nothing'}")
    finally:
        ctx.close()


DEMO_QUERIES = [
    ("hospital discharge integrated care", "hybrid"),
    ("sharing data between the council and the NHS", "semantic"),
    ('"pooled budget"', "bm25"),
]


@app.command()
def demo(
    port: int = typer.Option(8731, "--port", help="Port of the demo site on 127.0.0.1"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Build the demo site, serve it on 127.0.0.1, ingest it, and run a few searches."""
    from config.sources import Source
    from demo.build import build_site
    from demo.server import StaticSite
    from flows.ingest import run_ingest

    settings = _settings(config, fetch={"allow_networks": ["127.0.0.1/32"], "min_delay_s": 0.0})
    root = settings.home / "demo-site"
    build_site(root)
    console.print(f"[bold]Evidence Hub demo[/bold] — data directory {settings.home}")
    with StaticSite(root, port=port) as site:
        console.print(f"Serving the demo site at {site.base_url}/ ; ingesting its sitemap …")
        source = Source(name="demo", kind="sitemap", url=f"{site.base_url}/sitemap.xml",
                        publisher="Northmoor Collaboration Observatory")
        summary = run_ingest([source], settings, console=console)
    print_summary(summary)
    for text, mode in DEMO_QUERIES:
        console.rule(f"search {text!r} --mode {mode}")
        response = _search(settings, text, mode, {}, 3)
        print_results(response)
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "evidence-hub" else "evidence-hub"
    console.rule("Search yourself")
    # plain print: rich would wrap a long command line and break copy-paste
    print(f'  {exe} search "family hubs" --mode hybrid')
    print(f'  {exe} search "co-production lived experience" --policy-area P2 --json')
    print(f"  (data directory: {settings.home}; set EVIDENCE_HUB_HOME to use another)")
    print(f"  {exe} serve        # the web page and the API on http://127.0.0.1:8000/")


if __name__ == "__main__":  # pragma: no cover
    app()
