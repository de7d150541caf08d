"""Fault soak: real ``evidence-hub ingest`` processes killed, starved and cut off, then resumed;
after each resume the index itself is compared with the documents the site serves.

Not a test (not part of ``make test``): it is bounded by ``--runs`` and ``--max-minutes`` and is
meant for a quiet moment on a developer machine::

    nice -n 10 python benchmarks/soak.py [--runs 20] [--max-minutes 14] [--seed 7]
        [--scenarios kill,faults,opensearch,diskfull] [--json benchmarks/results/soak.json [--merge]]

Scenarios (each row of the output is one verified run):

``kill``
    A loopback site of short generated HTML pages and PDFs (``demo.server.StaticSite`` over a
    folder; ``tests.fault_site.page_html``/``make_pdf`` write the documents, a few new ones and one
    changed one per run, plus one page whose bytes repeat another page) is ingested with the CLI
    into one data directory. Each run is SIGKILLed with its whole process group (Prefect's server,
    extraction workers) at a random moment: a third of the runs at a uniform time over 0.1-1.0 of
    the last complete run's duration (start-up included), the others 0-0.5 s after a random number
    (0-3) of the run's new documents are indexed; then resumed to completion and verified.
``faults``
    ``tests.fault_site.FaultSite`` plus bad PDFs (random bytes behind ``%PDF-``, a truncated PDF, a
    PDF with a damaged xref, an empty one): 5xx, 429 with Retry-After (1 s; and 3600 s from a second
    host, since it pauses its host), a slow drip past the fetch deadline, a truncated body, an error
    page served as a PDF. One run killed at a random moment,
    then resumed. Good URLs must be indexed once; bad ones must not be indexed and must carry a
    failure reason in the registry; "either" URLs (recoverable damage) may be indexed (once) or
    fail with a reason.
``opensearch``
    Backend ``opensearch`` against a local node (``scripts/opensearch/opensearch.sh``, port
    ``--opensearch-port`` 9270, run dir ``--opensearch-run-dir`` /tmp/soak-os). The node is stopped
    (``opensearch.sh stop``: SIGTERM, SIGKILL after 30 s) once 2-5 documents are loaded and the run
    goes on against a dead cluster (failures recorded),
    then the node is started again and the run resumed to completion; the index is read back from
    OpenSearch.
``diskfull``
    The embedded index (``index.path``) is put on a small tmpfs mounted for the purpose (needs
    root) and filled with a ballast file; the run must fail the documents it cannot write with a
    recorded reason (registry ``urls.reason``), lose nothing committed before, and after the ballast
    is removed a resumed run completes with nothing lost or duplicated. Without a tmpfs (not root),
    the child gets ``RLIMIT_FSIZE`` instead (every file it writes is capped just above the index's
    current size); the row says which (``method``). Two rows: the run while full (``expected`` and
    ``indexed`` count the documents committed before the disk filled, which must survive;
    ``failed_recorded`` the URLs failed with a reason) and the resumed run after space returns.

Verification (from the index, not the registry): the expected documents are the distinct
contents the site serves (content hash -> the URLs serving it). ``indexed``: expected contents
present in the index at one of their URLs with the right hash. ``lost``: expected contents absent,
present with a stale hash, or present with missing chunks (chunk ordinals not exactly 0..n-1).
``duplicated``: index rows beyond one per URL and one per content hash, plus repeated
``(doc_id, ordinal)`` chunks. ``extra``: indexed documents that the site does not serve as expected
(e.g. a bad URL that got indexed). Outcome ``ok`` needs lost = duplicated = extra = 0, the resume
run to exit 0 and the scenario's own checks (recorded reasons) to hold.

JSON (``--json PATH``)::

    {
      "generated_at": "2026-11-30T05:00:00Z",   # UTC, ISO 8601
      "seed": 7, "max_minutes": 14.0, "runs_requested": 20,
      "host": {"cpus": 2, "python": "3.11.2"},
      "runs": [
        {"scenario": "kill", "run": 1,          # scenario name, run number within it
         "event": "SIGKILL at 23.4 s (3 indexed)",  # what was done to the run
         "expected": 12, "indexed": 12, "lost": 0, "duplicated": 0, "extra": 0,
         "failed_recorded": 0,                 # URLs with state failed and a reason in the registry
         "outcome": "ok",                      # "ok" | "FAIL"
         "detail": "...",                      # free text: why FAIL, reasons seen, method used
         "seconds": 81.2}                      # wall time of the run pair (kill + resume)
      ],
      "totals": {"runs": 9, "ok": 9, "lost": 0, "duplicated": 0}
    }

``--merge`` keeps the rows of scenarios not run this time from an existing JSON file, so scenarios
can be run in separate invocations into one file; ``--append`` keeps all its rows and adds these
(run numbers continue), e.g. to add kill runs in a second invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.models import content_hash  # noqa: E402
from demo.server import StaticSite  # noqa: E402
from tests.fault_site import FaultSite, make_pdf, page_html  # noqa: E402

OPENSEARCH_SH = ROOT / "scripts" / "opensearch" / "opensearch.sh"
SCENARIOS = ("kill", "faults", "opensearch", "diskfull")


@dataclass
class Row:
    """One verified run (see the module docstring for the fields)."""

    scenario: str
    run: int
    event: str
    expected: int = 0
    indexed: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    failed_recorded: int = 0
    outcome: str = "FAIL"
    detail: str = ""
    seconds: float = 0.0


# -- processes ---------------------------------------------------------------------------------
class Hub:
    """Runs ``evidence-hub ingest`` (``python -m cli.main``) for one data directory."""

    def __init__(self, home: Path, work: Path, env: dict[str, str] | None = None):
        self.home = home
        self.work = work
        self.extra_env = dict(env or {})
        self.count = 0

    def env(self) -> dict[str, str]:
        """The child's environment: no inherited EVIDENCE_HUB_* settings, loopback allowed, no delay."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_HUB_")}
        env.update(EVIDENCE_HUB_HOME=str(self.home), EVIDENCE_HUB_FETCH__ALLOW_NETWORKS="127.0.0.1/32",
                   EVIDENCE_HUB_FETCH__MIN_DELAY_S="0", PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_LOGGING_LEVEL="WARNING", PREFECT_HOME=str(self.work / "prefect"),
                   PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180", TOKENIZERS_PARALLELISM="false")
        env.update(self.extra_env)
        return env

    def start(self, args: list[str], preexec_fn=None) -> subprocess.Popen:
        """Start ``ingest ARGS --json`` in its own process group; output goes to files."""
        self.count += 1
        out = open(self.work / f"{self.home.name}-{self.count}.out", "wb")
        err = open(self.work / f"{self.home.name}-{self.count}.err", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", *args, "--json"], cwd=ROOT,
                                env=self.env(), stdout=out, stderr=err, start_new_session=True,
                                preexec_fn=preexec_fn)
        proc.out_path, proc.err_path = out.name, err.name  # type: ignore[attr-defined]
        out.close()
        err.close()
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the process group of ``proc`` and reap it."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)

    @staticmethod
    def finish(proc: subprocess.Popen, timeout: float = 900) -> tuple[int, dict | None, str]:
        """Wait for ``proc``; returns (exit status, the JSON summary or None, stderr tail)."""
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            Hub.kill(proc)
            return -9, None, f"timed out after {timeout:g} s"
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group (none expected)
        except ProcessLookupError:
            pass
        err = Path(proc.err_path).read_text(errors="replace")[-1500:]  # type: ignore[attr-defined]
        try:
            summary = json.loads(Path(proc.out_path).read_text())  # type: ignore[attr-defined]
        except (OSError, ValueError):
            summary = None
        return proc.returncode, summary, err

    def registry(self) -> list[tuple[str, str, str | None, str | None]]:
        """(url, state, stage, reason) of every URL in the registry (read-only)."""
        path = self.home / "registry.sqlite"
        if not path.exists():
            return []
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
                return db.execute("SELECT url, state, stage, reason FROM urls").fetchall()
        except sqlite3.OperationalError:
            return []

    def indexed_count(self) -> int:
        """URLs in state indexed (0 before the registry exists)."""
        return sum(1 for _, state, _, _ in self.registry() if state == "indexed")


def kill_at_random(hub: Hub, proc: subprocess.Popen, delay: float) -> str:
    """Sleep ``delay`` seconds (or until ``proc`` ends), SIGKILL it; describe what happened."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        return f"finished before the kill at {delay:.1f} s"
    indexed = hub.indexed_count()
    Hub.kill(proc)
    return f"SIGKILL at {delay:.1f} s ({indexed} indexed)"


def kill_after_indexed(hub: Hub, proc: subprocess.Popen, target: int, jitter: float) -> str:
    """SIGKILL ``proc`` ``jitter`` seconds after the registry counts ``target`` indexed URLs (or when
    it ends first, nothing); describe what happened."""
    while proc.poll() is None and hub.indexed_count() < target:
        time.sleep(0.02)
    time.sleep(jitter)
    if proc.poll() is not None:
        return f"finished before reaching {target} indexed"
    indexed = hub.indexed_count()
    Hub.kill(proc)
    return f"SIGKILL {jitter:.2f} s after {target} indexed ({indexed} at the kill)"


# -- what the index holds ----------------------------------------------------------------------
def embedded_rows(index_path: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, int]]]:
    """(documents as (id, url, content_hash), chunks as (doc_id, ordinal)) of an embedded index."""
    if not index_path.exists():
        return [], []
    with closing(sqlite3.connect(f"file:{index_path}?mode=ro", uri=True, timeout=30)) as db:
        docs = db.execute("SELECT id, url, content_hash FROM documents").fetchall()
        chunks = db.execute("SELECT doc_id, ordinal FROM chunks").fetchall()
    return docs, chunks


def opensearch_rows(url: str, prefix: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, int]]]:
    """The same as :func:`embedded_rows`, read from the OpenSearch aliases ``<prefix>-documents``
    and ``<prefix>-chunks`` (refreshed first)."""
    from opensearchpy import OpenSearch
    from opensearchpy.helpers import scan

    client = OpenSearch(hosts=[url], timeout=60)
    try:
        client.indices.refresh(index=f"{prefix}-documents,{prefix}-chunks")
        docs = [(h["_id"], h["_source"]["url"], h["_source"]["content_hash"])
                for h in scan(client, index=f"{prefix}-documents",
                              query={"query": {"match_all": {}}, "_source": ["url", "content_hash"]})]
        chunks = [(h["_source"]["doc_id"], int(h["_source"]["ordinal"]))
                  for h in scan(client, index=f"{prefix}-chunks",
                                query={"query": {"match_all": {}}, "_source": ["doc_id", "ordinal"]})]
    finally:
        client.close()
    return docs, chunks


def verify(docs: list[tuple[str, str, str]], chunks: list[tuple[str, int]],
           expected: list[tuple[str | None, set[str]]], tolerated: set[str] = frozenset()) -> dict[str, int]:
    """Compare an index with what was expected.

    ``expected`` lists (content hash or None for any content, the URLs that serve it); ``tolerated``
    URLs may be indexed (once) without being expected. Returns ``{"expected", "indexed", "lost",
    "duplicated", "extra", "incomplete"}`` (counts of documents; see the module docstring)."""
    by_url: dict[str, list[tuple[str, str]]] = {}
    for doc_id, url, digest in docs:
        by_url.setdefault(url, []).append((doc_id, digest))
    ordinals: dict[str, list[int]] = {}
    for doc_id, ordinal in chunks:
        ordinals.setdefault(doc_id, []).append(ordinal)
    repeated_chunks = sum(len(o) - len(set(o)) for o in ordinals.values())

    def complete(doc_id: str) -> bool:
        body = sorted(o for o in ordinals.get(doc_id, []) if o >= 0)
        return bool(body) and body == list(range(len(body)))

    indexed = lost = incomplete = 0
    covered: set[str] = set()
    for digest, urls in expected:
        present = [(doc_id, d) for url in urls for doc_id, d in by_url.get(url, [])]
        covered |= urls
        good = [doc_id for doc_id, d in present if digest is None or d == digest]
        if good and all(complete(doc_id) for doc_id in good):
            indexed += 1
        else:
            lost += 1
            incomplete += int(bool(good))
    duplicated = max(len(docs) - len(by_url), len(docs) - len({d for _, _, d in docs})) + repeated_chunks
    extra = sum(len(rows) for url, rows in by_url.items() if url not in covered and url not in tolerated)
    return {"expected": len(expected), "indexed": indexed, "lost": lost, "duplicated": duplicated,
            "extra": extra, "incomplete": incomplete}


# -- the generated site ------------------------------------------------------------------------
class GrowingSite:
    """A folder of short HTML pages and PDFs served by StaticSite; grows a little per run."""

    def __init__(self, folder: Path, rng: random.Random, prefix: str):
        self.folder = folder
        self.rng = rng
        self.prefix = prefix
        folder.mkdir(parents=True, exist_ok=True)
        self.site = StaticSite(folder).start()
        self.names: list[str] = []

    def grow(self, run: int, new_pages: int = 3, pdf: bool = True, change: bool = True) -> None:
        """Add ``new_pages`` HTML pages (and a PDF), change one existing page; in run 1 also add a
        page with the same bytes as another (the hub must index that content once)."""
        for i in range(new_pages):
            name = f"{self.prefix}-{run}-{i}"
            (self.folder / f"{name}.html").write_bytes(page_html(name, words=self.rng.randint(40, 160)))
            self.names.append(name)
        if pdf:
            (self.folder / f"{self.prefix}-{run}.pdf").write_bytes(
                make_pdf(f"Soak report {self.prefix} {run} on pooled budgets", words=self.rng.randint(60, 200)))
        if change and len(self.names) > new_pages:
            name = self.rng.choice(self.names[:-new_pages])
            (self.folder / f"{name}.html").write_bytes(page_html(f"{name} revised in run {run}", words=90))
        if run == 1 and self.names:
            (self.folder / f"{self.prefix}-copy.html").write_bytes((self.folder / f"{self.names[0]}.html").read_bytes())

    def expected(self) -> list[tuple[str | None, set[str]]]:
        """(content hash, URLs serving those bytes) for every distinct page and PDF of the site."""
        groups: dict[str, set[str]] = {}
        base = self.site.base_url
        for path in sorted(self.folder.iterdir()):
            if path.suffix in (".html", ".pdf"):
                groups.setdefault(content_hash(path.read_bytes()), set()).add(f"{base}/{path.name}")
        return sorted(groups.items())

    @property
    def sitemap(self) -> str:
        return self.site.base_url + "/sitemap.xml"

    def close(self) -> None:
        self.site.stop()


def _row(scenario: str, run: int, event: str, counts: dict[str, int], *, rc: int, failed_recorded: int,
         checks: list[str], seconds: float, detail: str = "") -> Row:
    problems = list(checks)
    if rc != 0:
        problems.append(f"resume exit status {rc}")
    for key in ("lost", "duplicated", "extra"):
        if counts[key]:
            problems.append(f"{counts[key]} {key}")
    if counts["incomplete"]:
        problems.append(f"{counts['incomplete']} with missing chunks")
    return Row(scenario=scenario, run=run, event=event, expected=counts["expected"], indexed=counts["indexed"],
               lost=counts["lost"], duplicated=counts["duplicated"], extra=counts["extra"],
               failed_recorded=failed_recorded, outcome="FAIL" if problems else "ok",
               detail="; ".join(problems + ([detail] if detail else [])), seconds=round(seconds, 1))


def _recorded_failures(hub: Hub) -> list[tuple[str, str | None, str | None]]:
    return [(url, stage, reason) for url, state, stage, reason in hub.registry() if state == "failed"]


# -- scenarios ---------------------------------------------------------------------------------
def scenario_kill(work: Path, rng: random.Random, runs: int, stop_at: float, report) -> list[Row]:
    """``runs`` kill -9 + resume pairs over one growing site into one data directory."""
    rows: list[Row] = []
    site = GrowingSite(work / "kill-site", rng, "k")
    hub = Hub(work / "kill-home", work)
    estimate = 60.0
    try:
        for run in range(1, runs + 1):
            if time.monotonic() > stop_at:
                break
            site.grow(run)
            started = time.monotonic()
            proc = hub.start(["--sitemap", site.sitemap])
            if rng.random() < 1 / 3:  # any moment, start-up included
                event = kill_at_random(hub, proc, rng.uniform(0.1, 1.0) * estimate)
            else:  # while documents are being written: after k of this run's new ones are indexed
                event = kill_after_indexed(hub, proc, hub.indexed_count() + rng.randint(0, 3), rng.uniform(0, 0.5))
            resumed_at = time.monotonic()
            rc, summary, err = Hub.finish(hub.start(["--sitemap", site.sitemap]))
            estimate = max(10.0, time.monotonic() - resumed_at)
            counts = verify(*embedded_rows(hub.home / "index.sqlite"), site.expected())
            failures = _recorded_failures(hub)
            checks = [f"recorded failure {u}: {r}" for u, _, r in failures]
            row = _row("kill", run, event, counts, rc=rc, failed_recorded=len(failures), checks=checks,
                       seconds=time.monotonic() - started, detail="" if rc == 0 else err[-300:])
            rows.append(row)
            report(row)
    finally:
        site.close()
    return rows


class BadPdfSite(FaultSite):
    """FaultSite plus damaged PDFs under /bad/ (see the module docstring)."""

    def __init__(self, rng: random.Random, **kwargs):
        super().__init__(**kwargs)
        good = make_pdf("Integrated care partnerships: a soak report", words=220)
        xref = good.rfind(b"xref")
        self.bad = {
            "/bad/garbage.pdf": b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(4000)),
            "/bad/empty.pdf": b"%PDF-1.7\n%%EOF\n",
            "/bad/truncated.pdf": good[: len(good) // 3],
            "/bad/xref-damaged.pdf": good[:xref] + b"xrfe" + good[xref + 4:].replace(b"startxref", b"startxref\n9"),
        }

    def _serve(self, handler) -> None:
        body = self.bad.get(handler.path)
        if body is None:
            return super()._serve(handler)
        with self._lock:
            self.hits[handler.path] += 1
        self._page(handler, body, "application/pdf")


def scenario_faults(work: Path, rng: random.Random, report) -> list[Row]:
    """One run against the fault-injecting site, killed at a random moment, then resumed."""
    good = [f"/ok/page-{i}.html" for i in range(4)] + ["/retry-after/a", "/flaky/a", "/pdf-as-html"]
    bad = ["/always-503", "/drip", "/truncated", "/error.pdf", "/gone", "/bad/garbage.pdf", "/bad/empty.pdf"]
    either = ["/bad/truncated.pdf", "/bad/xref-damaged.pdf"]
    hub = Hub(work / "faults-home", work, env={"EVIDENCE_HUB_FETCH__TIMEOUT_S": "4",
                                               "EVIDENCE_HUB_FETCH__RETRIES": "2",
                                               "EVIDENCE_HUB_FETCH__MAX_RETRY_WAIT_S": "5",
                                               "EVIDENCE_HUB_FETCH__BACKOFF_MAX_S": "2"})
    # "Retry-After: 3600" pauses its whole host (by design), so it gets a host of its own: the other
    # faults must still be fetched and reach extraction
    with BadPdfSite(rng, drip_interval=0.2, pages=4) as site, FaultSite() as hour_site:
        hour_url = hour_site.base_url + "/retry-after-hour"
        args = [a for path in good + bad + either for a in ("--url", site.base_url + path)] + ["--url", hour_url]
        started = time.monotonic()
        event = kill_at_random(hub, hub.start(args), rng.uniform(0.3, 1.0) * 60)
        rc, summary, err = Hub.finish(hub.start(args))
        docs, chunks = embedded_rows(hub.home / "index.sqlite")
        counts = verify(docs, chunks, [(None, {site.base_url + path}) for path in good],
                        tolerated={site.base_url + p for p in either})
    urls_in_index = {url for _, url, _ in docs}
    failures = {url: (stage, reason) for url, stage, reason in _recorded_failures(hub)}
    checks = []
    for path in bad:
        url = site.base_url + path
        if url in urls_in_index:
            checks.append(f"{path} indexed")
        elif not (failures.get(url) and failures[url][1]):
            checks.append(f"{path} has no recorded failure reason")
    for path in either:
        url = site.base_url + path
        if url not in urls_in_index and not (failures.get(url) and failures[url][1]):
            checks.append(f"{path} neither indexed nor failed with a reason")
    if not (failures.get(hour_url) and failures[hour_url][1]) or hour_url in urls_in_index:
        checks.append("/retry-after-hour has no recorded failure reason")
    reasons = sorted({f"{u.removeprefix(site.base_url)}: {r}" for u, (s, r) in failures.items()})
    row = _row("faults", 1, event, counts, rc=rc, failed_recorded=len(failures), checks=checks,
               seconds=time.monotonic() - started, detail=" | ".join(r[:90] for r in reasons))
    report(row)
    return [row]


def _opensearch(command: str, port: int, run_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENSEARCH_PORT=str(port), OPENSEARCH_RUN_DIR=str(run_dir))
    return subprocess.run(["bash", str(OPENSEARCH_SH), command], env=env, capture_output=True, text=True,
                          timeout=300)


def scenario_opensearch(work: Path, rng: random.Random, port: int, run_dir: Path, report) -> list[Row]:
    """A run whose OpenSearch node is stopped mid-load, then restarted and the run resumed."""
    url = f"http://127.0.0.1:{port}"
    prefix = "soak"
    for command in ("fetch", "clean", "start"):
        done = _opensearch(command, port, run_dir)
        if done.returncode != 0:
            row = Row("opensearch", 1, f"opensearch.sh {command} failed", detail=done.stderr[-400:])
            report(row)
            return [row]
    site = GrowingSite(work / "os-site", rng, "o")
    hub = Hub(work / "os-home", work, env={"EVIDENCE_HUB_INDEX__BACKEND": "opensearch",
                                           "EVIDENCE_HUB_INDEX__OPENSEARCH__HOSTS": json.dumps([url]),
                                           "EVIDENCE_HUB_INDEX__OPENSEARCH__INDEX_PREFIX": prefix,
                                           "EVIDENCE_HUB_INDEX__OPENSEARCH__TIMEOUT_S": "10"})
    try:
        for run in range(1, 4):
            site.grow(run, new_pages=4, change=False)
        started = time.monotonic()
        proc = hub.start(["--sitemap", site.sitemap])
        target = rng.randint(2, 5)
        while proc.poll() is None and hub.indexed_count() < target:
            time.sleep(0.05)
        before = hub.indexed_count()
        stop = _opensearch("stop", port, run_dir)
        rc1, first, _ = Hub.finish(proc)
        down_failures = len(_recorded_failures(hub))
        start = _opensearch("start", port, run_dir)
        if start.returncode != 0:
            row = Row("opensearch", 1, "node restart failed", detail=start.stderr[-400:])
            report(row)
            return [row]
        rc, summary, err = Hub.finish(hub.start(["--sitemap", site.sitemap]))
        counts = verify(*opensearch_rows(url, prefix), site.expected())
        left = _recorded_failures(hub)
        checks = [f"still failed after resume {u}: {r}" for u, _, r in left]
        if stop.returncode != 0:
            checks.append("opensearch.sh stop failed")
        if down_failures == 0 and first and first.get("indexed", 0) < counts["expected"]:
            checks.append("no failure recorded while the node was down")
        event = (f"node stopped after {before} indexed; first run exit {rc1}, "
                 f"{first.get('indexed') if first else '?'} indexed, {down_failures} failures recorded; restarted")
        row = _row("opensearch", 1, event, counts, rc=rc, failed_recorded=len(left), checks=checks,
                   seconds=time.monotonic() - started, detail="" if rc == 0 else err[-300:])
        report(row)
        return [row]
    finally:
        site.close()
        _opensearch("stop", port, run_dir)


def _fill(path: Path, headroom: int) -> None:
    """Write ``path`` until the file system is full, then give back ``headroom`` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:  # the last partial block
        while True:
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    size = path.stat().st_size
    os.truncate(path, max(0, size - headroom))


def scenario_diskfull(work: Path, rng: random.Random, method: str, headroom: int, report) -> list[Row]:
    """The embedded index on a full file system: recorded failures, then a clean resume."""
    mount = work / "diskfull-index"
    mount.mkdir()
    if method in ("auto", "tmpfs"):
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            method = "tmpfs"
        elif method == "tmpfs":
            row = Row("diskfull", 1, "mount tmpfs failed", detail=done.stderr.strip())
            report(row)
            return [row]
        else:
            method = "rlimit"
    index_path = mount / "index.sqlite"
    site = GrowingSite(work / "diskfull-site", rng, "d")
    hub = Hub(work / "diskfull-home", work, env={"EVIDENCE_HUB_INDEX__PATH": str(index_path)})
    rows: list[Row] = []
    try:
        started = time.monotonic()
        site.grow(1, new_pages=3, change=False)
        rc, _, err = Hub.finish(hub.start(["--sitemap", site.sitemap]))
        committed = {url for _, url, _ in embedded_rows(index_path)[0]}
        site.grow(2, new_pages=6, change=False)
        site.grow(3, new_pages=6, change=False)
        preexec = None
        if method == "tmpfs":
            _fill(mount / "ballast", headroom)
            event = f"tmpfs 4 MiB filled to {headroom // 1024} KiB free"
        else:
            import resource

            limit = index_path.stat().st_size + headroom

            def preexec() -> None:  # in the child: every file it writes is capped
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

            event = f"RLIMIT_FSIZE {limit} bytes (index + {headroom // 1024} KiB)"
        rc_full, full, err_full = Hub.finish(hub.start(["--sitemap", site.sitemap], preexec_fn=preexec))
        docs, chunks = embedded_rows(index_path)
        still = {url for _, url, _ in docs}
        failures = _recorded_failures(hub)
        space = [r for _, _, r in failures if r and any(w in r.lower() for w in ("full", "space", "too large"))]
        counts = verify(docs, chunks, [(h, u) for h, u in site.expected() if u & committed],
                        tolerated={u for _, us in site.expected() for u in us})
        counts["extra"] = 0  # documents written before the disk filled up are fine
        checks = []
        if committed - still:
            checks.append(f"{len(committed - still)} committed documents gone")
        if not space:
            checks.append(f"no failure recorded with a disk-full reason (exit {rc_full}: {err_full[-300:]})")
        full_row = _row("diskfull", 1, event, counts, rc=0, failed_recorded=len(failures), checks=checks,
                        seconds=time.monotonic() - started,
                        detail=f"method {method}; full run exit {rc_full}, "
                               f"{full.get('indexed') if full else '?'} indexed; reason: {space[0] if space else '-'}")
        full_row.event = event + " (run while full: committed documents kept, failures recorded)"
        rows.append(full_row)
        report(full_row)
        started = time.monotonic()
        (mount / "ballast").unlink(missing_ok=True)
        rc, summary, err = Hub.finish(hub.start(["--sitemap", site.sitemap]))
        counts = verify(*embedded_rows(index_path), site.expected())
        left = _recorded_failures(hub)
        row = _row("diskfull", 2, "space back (ballast removed / no limit), resumed", counts, rc=rc,
                   failed_recorded=len(left), checks=[f"still failed {u}: {r}" for u, _, r in left],
                   seconds=time.monotonic() - started, detail=f"method {method}")
        rows.append(row)
        report(row)
    finally:
        site.close()
        if method == "tmpfs":
            for attempt in range(10):  # the last reader may still be closing the index
                if subprocess.run(["umount", str(mount)], capture_output=True).returncode == 0:
                    break
                time.sleep(1)
            else:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    return rows


# -- output --------------------------------------------------------------------------------------
def table(rows: list[Row]):
    """A rich Table of ``rows``."""
    from rich.table import Table

    t = Table(title="Evidence Hub fault soak")
    for name in ("scenario", "run", "event", "expected", "indexed", "lost", "duplicated", "extra",
                 "failed (recorded)", "outcome", "s"):
        t.add_column(name, justify="right" if name not in ("scenario", "event", "outcome") else "left")
    for r in rows:
        t.add_row(r.scenario, str(r.run), r.event, str(r.expected), str(r.indexed), str(r.lost), str(r.duplicated),
                  str(r.extra), str(r.failed_recorded),
                  "[green]ok[/green]" if r.outcome == "ok" else "[red]FAIL[/red]", f"{r.seconds:.0f}")
    return t


def write_json(path: Path, rows: list[Row], args, merge: str | None) -> None:
    """Write the JSON described in the module docstring. ``merge``: None (only these rows),
    ``"merge"`` (keep the rows of other scenarios of an existing file) or ``"append"`` (keep all
    its rows; these rows' run numbers continue theirs)."""
    kept: list[dict] = []
    ran = {r.scenario for r in rows}
    new = [asdict(r) for r in rows]
    if merge in ("merge", "append") and path.exists():
        kept = json.loads(path.read_text()).get("runs", [])
        if merge == "merge":
            kept = [r for r in kept if r.get("scenario") not in ran]
        for row in new:  # run numbers go on after the kept rows of the same scenario
            row["run"] += max((r["run"] for r in kept if r["scenario"] == row["scenario"]), default=0)
    all_rows = kept + new
    data = {
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": args.seed, "max_minutes": args.max_minutes, "runs_requested": args.runs,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": all_rows,
        "totals": {"runs": len(all_rows), "ok": sum(r["outcome"] == "ok" for r in all_rows),
                   "lost": sum(r["lost"] for r in all_rows), "duplicated": sum(r["duplicated"] for r in all_rows)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the soak; exit status 0 when every run is ``ok``, 1 otherwise."""
    from rich.console import Console

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="kill -9 + resume runs (20)")
    parser.add_argument("--max-minutes", type=float, default=14.0,
                        help="stop starting kill runs after this (the other scenarios still run)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--json", type=Path, help="write the runs as JSON here")
    parser.add_argument("--merge", action="store_const", const="merge", dest="merge",
                        help="keep the other scenarios' rows of an existing --json file")
    parser.add_argument("--append", action="store_const", const="append", dest="merge",
                        help="keep every row of an existing --json file and add these")
    parser.add_argument("--opensearch-port", type=int, default=9270)
    parser.add_argument("--opensearch-run-dir", type=Path, default=Path("/tmp/soak-os"))
    parser.add_argument("--disk-full-method", choices=("auto", "tmpfs", "rlimit"), default="auto")
    parser.add_argument("--headroom-kib", type=int, default=96, help="free space left on the full file system")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    console = Console()
    rng = random.Random(args.seed)
    stop_at = time.monotonic() + args.max_minutes * 60
    work = Path(tempfile.mkdtemp(prefix="evidence-hub-soak-"))
    rows: list[Row] = []

    def report(row: Row) -> None:
        console.print(f"[bold]{row.scenario} {row.run}[/bold] {row.event}: expected {row.expected}, indexed "
                      f"{row.indexed}, lost {row.lost}, duplicated {row.duplicated}, extra {row.extra} -> "
                      f"{row.outcome} {row.detail[:300]}")

    try:
        for name in scenarios:
            if name == "kill":
                rows += scenario_kill(work, rng, args.runs, stop_at, report)
            elif name == "faults":
                rows += scenario_faults(work, rng, report)
            elif name == "opensearch":
                rows += scenario_opensearch(work, rng, args.opensearch_port, args.opensearch_run_dir, report)
            elif name == "diskfull":
                rows += scenario_diskfull(work, rng, args.disk_full_method, args.headroom_kib * 1024, report)
    finally:
        console.print(table(rows))
        if args.json:
            write_json(args.json, rows, args, args.merge)
            console.print(f"JSON: {args.json}")
        if args.keep:
            console.print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if rows and all(r.outcome == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
