"""Which Prefect API a process talks to when no server is configured.

With ``PREFECT_API_URL`` unset, Prefect starts a temporary ("ephemeral") API server in a subprocess
the first time a flow runs. Prefect 3.9 picks its port with ``random.choice(range(8000, 9000))`` after
a bind check and then accepts any ``200`` from ``/api/health`` on that port. Two hub processes
starting at the same moment (a scheduled run beside a manual one, the crash-resume tests) can pick
the same port: the loser's server fails to bind, and the loser then talks to the *other* process's
server, so it dies with ``httpx.ConnectError: Connection refused`` when that process ends (seen in
CI: a clean ingest killed that way while a SIGKILLed one went down beside it).

A server whose start-up fails (uvicorn's exit code 3, e.g. two servers migrating one Prefect
database at once) is restarted on another port drawn the same way: the collision is then likelier.

:func:`use_private_ephemeral_api` registers :class:`PrivateEphemeralServer` as Prefect's default
ephemeral server before any client asks for one: every port it binds (the first and any restart) is
chosen by the operating system (bind to port 0), as Prefect's own test harness does for its server
(``prefect.testing.utilities``, https://github.com/PrefectHQ/prefect/issues/21544). It still starts
lazily, on the first client call, so starting it keeps overlapping with loading the embedding model.
"""

from __future__ import annotations

import socket

from prefect.server.api.server import SubprocessASGIServer


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that the operating system reports free right now (bind to port 0).

    Ports come from the kernel's ephemeral range (32768-60999 on Linux by default), randomised per
    bind, so two processes asking at once practically never get the same one. Raises ``OSError`` if
    no socket can be bound on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateEphemeralServer(SubprocessASGIServer):
    """Prefect's ephemeral API server (a uvicorn subprocess of this process) whose ports come from
    :func:`free_loopback_port` instead of ``random.choice(range(8000, 9000))``."""

    def find_available_port(self) -> int:
        """An OS-chosen free loopback port (see :func:`free_loopback_port`)."""
        return free_loopback_port()


def use_private_ephemeral_api() -> bool:
    """Make this process's ephemeral Prefect API server a :class:`PrivateEphemeralServer`.

    Returns True when the default ephemeral server (the one Prefect's clients get from
    ``SubprocessASGIServer()``) is now, or already was, a private one; False when a server is
    configured (``PREFECT_API_URL`` set: nothing to do), ephemeral servers are disabled (Prefect then
    raises its own error asking for ``PREFECT_API_URL``) or a plain one is already registered (it is
    left alone). Idempotent. Does not start the server (Prefect does on first use)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return False
    return isinstance(PrivateEphemeralServer(), PrivateEphemeralServer)  # registers under Prefect's None key
