"""GatewayProcess: a real `gateway serve` process on a free 127.0.0.1 port, for end-to-end,
fault and load tests. Its output is collected by a thread so the pipe never fills and blocks
the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
import psutil
import pytest

from gateway.settings import PROJECT_ROOT

# The console script installed next to this interpreter: what `gateway serve` runs.
GATEWAY = Path(sys.executable).parent / "gateway"
STARTUP_LIMIT = 60.0  # seconds to answer a first query; a bound, not a performance check
EXIT_LIMIT = 60.0  # seconds to exit after SIGTERM


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class GatewayProcess:
    """`gateway serve --port <free port>` with `env` (GATEWAY_*, DATABASE_URL) over ours.

    Usage: `server = GatewayProcess({"DATABASE_URL": url}); server.wait_until_ready()`.
    """

    def __init__(
        self, env: Mapping[str, str], command: Sequence[str] = (str(GATEWAY), "serve")
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("GATEWAY_") and name != "DATABASE_URL"
        }
        # The repository root on the path, so GATEWAY_SERVICES may name test modules.
        inherited["PYTHONPATH"] = str(PROJECT_ROOT)
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=inherited | dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_ready(self) -> None:
        """Until it answers a query (or fail with its output)."""
        deadline = time.monotonic() + STARTUP_LIMIT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gateway serve exited early:\n{self.output}"
            try:
                response = httpx.post(self.url, json={"query": "{ __typename }"}, timeout=5)
            except httpx.TransportError:
                pass
            else:
                if response.status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"gateway serve was not ready within {STARTUP_LIMIT}s:\n{self.output}")

    def terminate(self) -> None:
        """Send SIGTERM: uvicorn's graceful shutdown."""
        self.process.send_signal(signal.SIGTERM)

    def wait_for_exit(self) -> int:
        """The exit status, once the process has ended (failing if it does not)."""
        try:
            returncode = self.process.wait(timeout=EXIT_LIMIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"gateway serve did not exit within {EXIT_LIMIT}s:\n{self.output}")
        self._reader.join(timeout=10)
        return returncode

    def kill(self) -> None:
        """SIGKILL, no shutdown at all; also the cleanup for whatever is still running.

        Its worker processes (`--workers`) go first: orphaned, they would keep its output
        pipe open and the reader thread blocked on it."""
        if self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


GatewayFactory = Callable[[Mapping[str, str]], GatewayProcess]
"""The `gateway_process` fixture: start a server with this environment, once it answers."""
