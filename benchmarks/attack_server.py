"""The gateway under attack: `gateway serve` as a real process, with its default settings.

    with serving_gateway(database_url, log_dir, file_limit=1024) as server: ...

Every GATEWAY_* variable of the caller's environment is left out, so the limits, timeouts
and pool are the defaults a fresh deployment gets, unless `settings` names some; but
GATEWAY_JWT_SECRET is the benchmark's key (benchmarks.contenders.BENCHMARK_ENV), so the
clients' admin bearer token (BENCHMARK_HEADERS) verifies: the shop answers `users` and a
user's orders and payments only to a signed-in owner or an admin. The
process's open-file limit is set to `file_limit` (1,024 is the usual default soft limit of a
service or container: the issue's lockout needed it). Its output goes to a log file whose
growth the report shows. The process is killed on exit, also when the run fails.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # ships no type information

from benchmarks.contenders import BENCHMARK_ENV
from benchmarks.servers import HOST, free_port

__all__ = ["GatewayServer", "serving_gateway"]

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = Path(sys.executable).parent / "gateway"  # the console script beside this Python
STARTUP_TIMEOUT = 90.0  # seconds
STOP_TIMEOUT = 15.0


@dataclass
class GatewayServer:
    """The running `gateway serve` process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_bytes(self) -> int:
        """The size of its output so far."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def open_files(self) -> int:
        """How many file descriptors the process holds (sockets included)."""
        count: int = psutil.Process(self.process.pid).num_fds()
        return count

    def check_alive(self) -> None:
        """Raise with the end of its log if the process has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(
                f"gateway serve exited with {self.process.returncode}:\n{self.log_tail()}"
            )


def _wait_until_ready(server: GatewayServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    url = f"http://{HOST}:{server.port}/graphql"
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            if httpx.post(url, json={"query": "{ __typename }"}, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway serve did not answer within {STARTUP_TIMEOUT:.0f} s")


@contextmanager
def serving_gateway(
    database_url: str, log_dir: Path, *, file_limit: int, settings: Mapping[str, str]
) -> Iterator[GatewayServer]:
    """Start `gateway serve` on a free port and wait until it answers a query."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env.update(BENCHMARK_ENV)
    env.update(settings, DATABASE_URL=database_url)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = min(file_limit, hard)

    def limit_files() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    port = free_port()
    log = log_dir / "gateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(GATEWAY), "serve", "--host", HOST, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files,
        )
    server = GatewayServer(process, port, log)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
