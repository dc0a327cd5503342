"""Each contender as a real uvicorn process on 127.0.0.1, started and stopped by the harness."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import Contender

__all__ = ["HOST", "Server", "free_port", "running_servers"]

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 90.0  # seconds; four servers import and connect at once on two cores


@dataclass
class Server:
    """A contender's uvicorn process."""

    contender: Contender
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/graphql"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port free on HOST now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _start(contender: Contender, env: dict[str, str], log_dir: Path) -> Server:
    port = free_port()
    log = log_dir / f"{contender.key}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        contender.target,
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    root = contender.root or ROOT
    # The checkout's own directory first on the path, so its `gateway` is the one imported
    # even though this environment has another checkout installed.
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return Server(contender, port, process, log)


def _wait_until_listening(server: Server, deadline: float) -> None:
    # uvicorn binds its socket only after the app's lifespan startup (pool open) succeeded.
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.contender.label} exited with {server.process.returncode} at startup:\n"
                f"{server.log_tail()}"
            )
        try:
            with socket.create_connection((HOST, server.port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{server.contender.label} did not listen on port {server.port} within "
                    f"{STARTUP_TIMEOUT:.0f}s:\n{server.log_tail()}"
                ) from None
            time.sleep(0.1)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def running_servers(
    contenders: Sequence[Contender], database_url: str, pool_size: int, log_dir: Path
) -> Iterator[dict[str, Server]]:
    """Start every contender (in parallel), wait until each listens, stop them all on exit."""
    env = {**os.environ, "DATABASE_URL": database_url, "BENCH_POOL_SIZE": str(pool_size)}
    servers: dict[str, Server] = {}
    try:
        for contender in contenders:
            servers[contender.key] = _start(contender, env, log_dir)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for server in servers.values():
            _wait_until_listening(server, deadline)
        yield servers
    finally:
        for server in servers.values():
            _stop(server)
