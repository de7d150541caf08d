"""Scheduling and operations: run records, status, retry-failed, task retries, deployments and the
adaptive re-crawl cadence. Real Prefect (ephemeral API), real HTTP on 127.0.0.1, real registry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from config import load_settings, load_sources
from core.models import RunSummary
from crawl.registry import Registry
from flows.context import HubContext
from flows.ingest import run_ingest
from flows.ops import is_due, recrawl
from flows.schedule import build_deployments
from tests.sites import Route, RoutedSite

WORDS = ("Councils and health partners pooled budgets to speed hospital discharge and integrate care "
         "teams across the district; the evaluation reports outcomes, costs and lessons for others. ")


def page(title: str, day: str) -> Route:
    """An HTML article with a publication date and enough words to be indexed."""
    body = (f"<html><head><title>{title}</title><meta property='article:published_time' content='{day}'>"
            f"</head><body><article><h1>{title}</h1>" + f"<p>{title}. {WORDS * 8}</p>" * 3
            + "</article></body></html>")
    return Route(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})


class Sequenced(dict):
    """Routes where a list answers its items in turn (the last one repeats): a flaky page."""

    def get(self, key, default=None):
        value = super().get(key, default)
        if isinstance(value, list):
            return value.pop(0) if len(value) > 1 else value[0]
        return value


@pytest.fixture()
def site():
    routes = Sequenced({
        "/robots.txt": Route(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}),
        "/a.html": page("Pooled budgets in Northmoor", "2024-01-15"),
        "/b.html": page("Integrated discharge teams", "2024-02-01"),
        "/flaky.html": [Route(503, b"busy"), page("A report behind a busy server", "2024-03-01")],
        "/gone.html": Route(404, b"gone"),
    })
    with RoutedSite(routes) as served:
        urls = "".join(f"<url><loc>{served.base_url}/{name}</loc></url>"
                       for name in ("a.html", "b.html", "flaky.html", "gone.html"))
        routes["/sitemap.xml"] = Route(200, f"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/"
                                       f"schemas/sitemap/0.9'>{urls}</urlset>".encode(),
                                       {"Content-Type": "application/xml"})
        yield served


@pytest.fixture()
def hub(tmp_path, site, monkeypatch):
    """A settings file and a sources file naming the loopback site as source ``site``."""
    monkeypatch.delenv("EVIDENCE_HUB_HOME", raising=False)
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"sources:\n  - name: site\n    kind: sitemap\n    url: {site.base_url}/sitemap.xml\n"
                       "    schedule:\n      interval: PT6H\n")
    config = tmp_path / "settings.yaml"
    config.write_text(f"home: {tmp_path / 'hub'}\nsources_file: {sources}\nfetch:\n  allow_networks: [127.0.0.1/32]\n"
                      "  min_delay_s: 0\n  retries: 0\n  backoff_initial_s: 0\n")
    return config, load_settings(config)


def _cli(*args: str) -> str:
    from cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_run_records_status_retry_failed_and_task_retry(hub, site):
    config, settings = hub
    source = load_sources(settings.sources_file)[0]
    summary = run_ingest([source], settings, fetch_task_retries=None)  # as scheduled runs do

    # The flaky page failed with 503 once; Prefect ran its fetch task again and it was indexed.
    assert [path for path, _ in site.hits].count("/flaky.html") == 2
    assert (summary.indexed, summary.failed) == (3, 1)
    assert "404" in summary.failures[0].reason

    status = json.loads(_cli("status", "--json", "--config", str(config)))
    (row,) = [s for s in status["sources"] if s["name"] == "site"]
    assert row["state"] == "completed"
    assert row["last_run"]["indexed"] == 3 and row["last_run"]["failed"] == 1
    assert row["documents"]["indexed"] == 3 and row["documents"]["failed"] == 1
    assert [e["url"] for e in row["errors"]] == [site.base_url + "/gone.html"]
    assert "404" in row["errors"][0]["reason"] and row["errors"][0]["stage"] == "fetch"
    host = site.base_url.removeprefix("http://")
    assert row["hosts"][host]["server_errors"] == 1
    fresh = row["freshness"]
    assert fresh["documents"] == 3 and fresh["dated_documents"] == 3
    assert fresh["since_published_median_s"] > fresh["since_first_seen_median_s"] >= 0
    assert row["recrawl"]["interval_s"] == 6 * 3600 and row["recrawl"]["adaptive"] is False
    text = _cli("status", "--config", str(config))
    assert "completed" in text and "/gone.html" in text and "HTTP 404" in text

    # The same counts and failures were published as Prefect artifacts of the flow run.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        counts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-site"])))
        failures = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-site-failures"])))
    # the newest: the Prefect database is shared by the whole test session
    counts, failures = sorted(counts, key=lambda a: a.created), sorted(failures, key=lambda a: a.created)
    table = {r["count"]: r["value"] for r in json.loads(counts[-1].data)}
    assert table["indexed"] == 3 and table["failed"] == 1 and table["state"] == "completed"
    assert [r["url"] for r in json.loads(failures[-1].data)] == [site.base_url + "/gone.html"]

    # retry-failed re-queues the 404; once the page is back, --now indexes it, and nothing twice.
    site.routes["/gone.html"] = page("Back again", "2024-04-01")
    out = json.loads(_cli("retry-failed", "--source", "site", "--now", "--json", "--config", str(config)))
    assert out["requeued"] == 1 and out["sources"] == {"site": 1}
    assert out["run"]["indexed"] == 1 and out["run"]["failed"] == 0 and out["run"]["unchanged"] == 3
    ctx = HubContext(settings)
    try:
        assert ctx.index.count() == 4
        assert ctx.registry.counts("site")["indexed"] == 4 and ctx.registry.failures("site") == []
        runs = ctx.registry.source_runs("site")
        assert [r.state for r in runs] == ["completed", "completed"] and runs[0].summary["indexed"] == 1
    finally:
        ctx.close()
    assert json.loads(_cli("retry-failed", "--json", "--config", str(config))) == {"requeued": 0, "sources": {}}
    from cli.main import app  # a misspelt source used to re-queue nothing and exit 0

    misspelt = CliRunner().invoke(app, ["retry-failed", "--source", "stie", "--config", str(config)])
    assert misspelt.exit_code == 2 and "unknown source: 'stie'" in misspelt.output and "site" in misspelt.output


def test_deployments_from_sources_file(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text("""sources:
  - {name: nightly, kind: feed, url: "https://example.org/feed.xml",
     schedule: {cron: "30 1 * * *", timezone: Europe/London}}
  - {name: six-hourly, kind: sitemap, url: "https://example.org/sitemap.xml", schedule: {interval: PT6H}}
  - {name: adaptive, kind: sitemap, url: "https://example.net/sitemap.xml",
     schedule: {interval: PT1H, adaptive: {min_interval: PT1H, max_interval: P2D}}}
  - {name: paused, kind: feed, url: "https://example.org/other.xml", schedule: {interval: P1D}, enabled: false}
  - {name: manual, kind: feed, url: "https://example.org/manual.xml"}
""")
    deployments = build_deployments(load_sources(sources), config=tmp_path / "settings.yaml")
    assert [d.name for d in deployments] == ["nightly", "six-hourly", "adaptive"]
    assert {d.flow_name for d in deployments} == {"ingest-source"}
    nightly, six, adaptive = (d.schedules[0].schedule for d in deployments)
    assert (nightly.cron, nightly.timezone) == ("30 1 * * *", "Europe/London")
    assert six.interval == timedelta(hours=6) and adaptive.interval == timedelta(hours=1)
    assert deployments[0].parameters == {"source": "nightly", "config": str(tmp_path / "settings.yaml"),
                                         "force": False}
    assert deployments[1].tags == ["evidence-hub", "source:six-hourly"]
    assert deployments[0].entrypoint == "flows/schedule.py:ingest_source"
    assert all(d.concurrency_limit == 1 for d in deployments)

    # The prefect.yaml for a work pool deploys the same deployments.
    import yaml

    from flows.schedule import prefect_yaml

    exported = yaml.safe_load(prefect_yaml(load_sources(sources), "pool-a", tmp_path / "settings.yaml"))
    entries = exported["deployments"]
    assert [e["name"] for e in entries] == ["nightly", "six-hourly", "adaptive"]
    assert [e["parameters"] for e in entries] == [d.parameters for d in deployments]
    assert entries[0]["schedules"] == [{"cron": "30 1 * * *", "timezone": "Europe/London"}]
    assert entries[1]["schedules"] == [{"interval": 21600, "timezone": "UTC"}]
    assert {e["entrypoint"] for e in entries} == {"flows/schedule.py:ingest_source"}
    assert {e["work_pool"]["name"] for e in entries} == {"pool-a"}


def test_adaptive_cadence_follows_what_the_source_publishes(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text("""sources:
  - {name: blog, kind: feed, url: "https://example.org/feed.xml",
     schedule: {interval: PT6H, adaptive: {min_interval: PT2H, max_interval: PT20H, inc_rate: 0.5, dec_rate: 0.5}}}
""")
    (source,) = load_sources(sources)
    registry = Registry(tmp_path / "registry.sqlite")
    try:
        assert recrawl(source, []).interval_s == 6 * 3600
        assert is_due(source, registry)[0] is True  # never crawled: due now
        for number, indexed in enumerate([0, 0, 4]):  # quiet, quiet, then new documents
            registry.start_source_run(f"r{number}", "blog")
            registry.finish_source_run(f"r{number}", "blog", RunSummary(indexed=indexed), "completed")
        cadence = recrawl(source, registry.source_runs("blog"))
        assert cadence.interval_s == 6 * 3600 * 1.5 * 1.5 * 0.5  # 6h -> 9h -> 13.5h -> 6.75h
        last = registry.source_runs("blog")[0].started_at
        assert cadence.next_due == last + timedelta(hours=6.75)
        assert is_due(source, registry, now=last + timedelta(hours=6))[0] is False
        assert is_due(source, registry, now=last + timedelta(hours=7))[0] is True
        for number in range(3, 10):  # a long quiet spell: the interval stops at the upper bound
            registry.start_source_run(f"r{number}", "blog")
            registry.finish_source_run(f"r{number}", "blog", RunSummary(), "completed")
        assert recrawl(source, registry.source_runs("blog")).interval_s == 20 * 3600
    finally:
        registry.close()
