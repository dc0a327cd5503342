"""The subscription load's two child processes: the `gateway serve` under test and the driver.

    with serving(database_url, env, log) as gateway: ...  # gateway.ws_url, gateway.error_lines()
    driver = await Driver.start(plan)  # connected, waiting
    result = await driver.go()  # every change committed, as the driver reports them

The gateway runs on a free port with the benchmark's settings (benchmarks.contenders) and
`env` over them, none of the caller's GATEWAY_* variables, its output in `log`; it is
stopped on exit. The driver is benchmarks.subscription_driver, spoken to over its stdin and
stdout (one JSON line each way).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.contenders import BENCHMARK_ENV
from benchmarks.servers import free_port

__all__ = ["Driver", "Gateway", "serving"]

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
GATEWAY = Path(sys.executable).parent / "gateway"
STARTUP_TIMEOUT_S = 90.0


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/graphql"

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_lines()[-lines:])

    def error_lines(self) -> list[str]:
        return [
            line
            for line in self.log_lines()
            if line.startswith(("ERROR", "CRITICAL")) or line.startswith("Traceback")
        ]


@contextmanager
def serving(database_url: str, env: dict[str, str], log: Path) -> Iterator[Gateway]:
    """`gateway serve` on a free port with `env`, until it listens; stopped on exit."""
    port = free_port()
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "DATABASE_URL"
    }
    inherited["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(GATEWAY), "serve", "--host", HOST, "--port", str(port)],
            cwd=ROOT,
            env=inherited | BENCHMARK_ENV | {"DATABASE_URL": database_url, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    gateway = Gateway(process, port, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:  # uvicorn binds its socket once the app's startup (pool, hub) succeeded
            if process.poll() is not None:
                raise RuntimeError(
                    f"gateway serve exited with {process.returncode}:\n{gateway.log_tail()}"
                )
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gateway serve did not listen within {STARTUP_TIMEOUT_S:g} s:\n"
                        f"{gateway.log_tail()}"
                    ) from None
                time.sleep(0.1)
        yield gateway
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Driver:
    """The driver process (benchmarks.subscription_driver), connected and waiting for `go`."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, plan: dict[str, Any]) -> Driver:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.subscription_driver",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,  # its answer is one line of every change
        )
        driver = cls(process)
        await driver._send(json.dumps(plan))
        if json.loads(await driver._answer()) != {"ready": True}:
            raise RuntimeError("The driver did not get ready.")
        return driver

    async def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def _answer(self) -> bytes:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"The driver exited with {await self.process.wait()}.")
        return line

    async def go(self) -> dict[str, Any]:
        await self._send("go")
        result: dict[str, Any] = json.loads(await self._answer())
        await self.process.wait()
        return result

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
