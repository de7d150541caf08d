"""A real Prefect server on 127.0.0.1: ``evidence-hub schedule serve`` serves a source's deployment
with a one-minute interval, and the server's scheduler starts a run that ingests the source."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from crawl.registry import Registry
from tests.sites import Route, RoutedSite
from tests.test_ops import page

ROOT = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).with_name("prefect")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, what: str, limit_s: float, procs: list[subprocess.Popen]):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` (a deadline for
    a hung test, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args[:3]} exited with {proc.returncode} while waiting for {what}"
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"gave up waiting for {what}")


def test_served_deployment_runs_on_its_schedule(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDENCE_HUB_", "PREFECT_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_LOGGING_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}
    routes = {"/robots.txt": Route(200, b"User-agent: *\nAllow: /\n"),
              "/note.html": page("A scheduled evidence note", "2024-06-01")}
    with RoutedSite(routes) as site:
        routes["/sitemap.xml"] = Route(200, (
            "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{site.base_url}/note.html</loc></url></urlset>").encode(), {"Content-Type": "application/xml"})
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"sources:\n  - {{name: served, kind: sitemap, url: '{site.base_url}/sitemap.xml', "
                           "schedule: {interval: PT1M}}\n")
        config = tmp_path / "settings.yaml"
        config.write_text(f"home: {tmp_path / 'hub'}\nsources_file: {sources}\n"
                          "fetch:\n  allow_networks: [127.0.0.1/32]\n  min_delay_s: 0\n")
        server = subprocess.Popen([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs = [server]
        try:
            def healthy():
                try:
                    return httpx.get(f"{api}/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            _wait(healthy, "the Prefect server", 300, procs)
            serve = subprocess.Popen([sys.executable, "-m", "cli.main", "schedule", "serve", "--config", str(config)],
                                     env=env | {"PREFECT_API_URL": api}, cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(serve)

            def completed_runs():
                found = httpx.post(f"{api}/flow_runs/filter", json={
                    "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}, timeout=10).json()
                return [r for r in found if r.get("deployment_id")]

            runs = _wait(completed_runs, "a scheduled run of the served deployment", 480, procs)
            deployment = httpx.get(f"{api}/deployments/{runs[0]['deployment_id']}", timeout=10).json()
            assert deployment["name"] == "served"
            assert deployment["schedules"][0]["schedule"]["interval"] == 60.0
            assert runs[0]["parameters"]["source"] == "served"
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    registry = Registry(tmp_path / "hub" / "registry.sqlite")
    try:
        (last, *_) = registry.source_runs("served")
        assert last.state == "completed" and last.summary["indexed"] == 1
        assert last.flow_run_id is not None
    finally:
        registry.close()
