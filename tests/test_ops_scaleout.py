"""Scale-out: two worker processes ingesting two sources at once into one shared registry and
index give the same index as one process ingesting both (no duplicates, no lost documents).
Real processes (the ``evidence-hub ingest`` command), real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import load_settings
from flows.context import HubContext
from tests.sites import Route, RoutedSite
from tests.test_ops import page

ROOT = Path(__file__).resolve().parents[1]


def _sitemap(base: str, names: list[str]) -> Route:
    urls = "".join(f"<url><loc>{base}/{n}</loc></url>" for n in names)
    return Route(200, ("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                       f"{urls}</urlset>").encode(), {"Content-Type": "application/xml"})


def _hub(tmp_path: Path, name: str, base: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    sources = home / "sources.yaml"
    sources.write_text("sources:\n"
                       f"  - {{name: alpha, kind: sitemap, url: '{base}/alpha.xml'}}\n"
                       f"  - {{name: beta, kind: sitemap, url: '{base}/beta.xml'}}\n")
    config = home / "settings.yaml"
    config.write_text(f"home: {home / 'data'}\nsources_file: {sources}\n"
                      "fetch:\n  allow_networks: [127.0.0.1/32]\n  min_delay_s: 0\n")
    return config


def _worker(config: Path, *sources: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDENCE_HUB_", "PREFECT_HOME"))}
    env["PREFECT_HOME"] = str(config.parent / f"prefect-{'-'.join(sources) or 'all'}")
    args = [a for s in sources for a in ("--source", s)]
    return subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", "--json", "--config", str(config), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _index(config: Path) -> tuple[dict[str, str], dict[str, int]]:
    ctx = HubContext(load_settings(config))
    try:
        ids = ctx.index.ids()
        assert len(ids) == len(set(ids)) == ctx.index.count()
        return {i: ctx.index.content_hash_of(i) for i in ids}, ctx.registry.counts()
    finally:
        ctx.close()


def test_two_workers_give_the_same_index_as_one(tmp_path):
    alpha = [f"a{i}.html" for i in range(4)] + ["shared.html"]
    beta = [f"b{i}.html" for i in range(4)] + ["shared.html"]  # one page listed by both sources
    routes = {"/robots.txt": Route(200, b"User-agent: *\nAllow: /\n")}
    routes |= {f"/{n}": page(f"Evidence note {n}", "2024-05-01") for n in set(alpha + beta)}
    with RoutedSite(routes) as site:
        routes["/alpha.xml"] = _sitemap(site.base_url, alpha)
        routes["/beta.xml"] = _sitemap(site.base_url, beta)
        two, one = _hub(tmp_path, "two", site.base_url), _hub(tmp_path, "one", site.base_url)
        workers = [_worker(two, "alpha"), _worker(two, "beta")]
        outputs = [w.communicate(timeout=900) for w in workers]
        single = _worker(one)
        single_out = single.communicate(timeout=900)
    for worker, (_, stderr) in zip(workers + [single], outputs + [single_out]):
        assert worker.returncode == 0, stderr[-3000:]
    shared_index, shared_counts = _index(two)
    single_index, single_counts = _index(one)
    assert len(single_index) == 9  # 4 + 4 + the shared page once
    assert shared_index == single_index  # same documents, same content, nothing twice, nothing lost
    assert shared_counts["indexed"] == single_counts["indexed"] == 9
    assert shared_counts["failed"] == single_counts["failed"] == 0
