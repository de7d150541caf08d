"""Each hub process gets its own ephemeral Prefect API server (flows/prefect_api.py).

The bug held here: two processes starting at once could share one ephemeral server (Prefect picks
a random port in 8000-8999 and accepts any health answer on it), and the survivor died with
``Connection refused`` when the other one was killed (CI, tests/test_crawl_resume.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A process that runs a trivial flow, reports which API it used and who serves it, waits for a line
# on stdin, then runs a second flow and reports again.
CHILD = r"""
import json, os, sys
from flows.prefect_api import use_private_ephemeral_api
private = use_private_ephemeral_api()
from prefect import flow
from prefect.server.api.server import SubprocessASGIServer

@flow
def double(x: int) -> int:
    return 2 * x

def report(step):
    result = double(step)  # starts the server on the first call
    server = SubprocessASGIServer._instances[None]
    print(json.dumps({"step": step, "private": private, "class": type(server).__name__, "port": server.port,
                      "server_pid": server.server_process.pid, "result": result}), flush=True)

report(1)
sys.stdin.readline()
report(2)
"""


def _child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return env | {"PREFECT_HOME": str(home), "PYTHONPATH": str(ROOT), "PREFECT_LOGGING_LEVEL": "ERROR"}


def _start(home: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=_child_env(home), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_two_processes_started_together_each_use_their_own_server_and_survive_the_other_being_killed(tmp_path):
    first, second = _start(tmp_path / "prefect"), _start(tmp_path / "prefect")
    try:
        a = json.loads(first.stdout.readline() or first.stderr.read())
        b = json.loads(second.stdout.readline() or second.stderr.read())
        for child, seen in ((first, a), (second, b)):
            assert seen["result"] == 2
            assert seen["private"] is True and seen["class"] == "PrivateEphemeralServer"
            assert seen["port"] not in range(8000, 9000)  # OS-chosen, not Prefect's random pick
            assert _ppid(seen["server_pid"]) == child.pid  # its own server, started by itself
        assert a["port"] != b["port"]

        os.killpg(first.pid, signal.SIGKILL)  # the process and its server, as the crash tests do
        first.wait(timeout=30)
        out, err = second.communicate("go\n", timeout=300)
        assert second.returncode == 0, err[-3000:]
        again = json.loads(out.strip().splitlines()[-1])
        assert again == b | {"step": 2, "result": 4}
    finally:
        for child in (first, second):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=30)


def test_a_configured_server_is_left_alone():
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.prefect_api import use_private_ephemeral_api

    before = dict(SubprocessASGIServer._instances)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert use_private_ephemeral_api() is False
    assert SubprocessASGIServer._instances == before


def test_free_loopback_port_is_bindable():
    import socket

    from flows.prefect_api import free_loopback_port

    port = free_loopback_port()
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
