"""The victim of the attack run: an ordinary client and a liveness probe, measured.

`victim(command)` runs `concurrency` closed-loop workers, each on its own keep-alive
connection, sending the victim's bodies in turn for `duration` seconds, and meanwhile probes
`/health/live` on a new connection every `probe_interval` seconds, as an orchestrator would.
Every request has a timeout; one that times out counts at the timeout in the percentiles
(so they never look better than what a user saw) and as an error. A worker whose connection
broke opens a new one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.attack_http import exchange, graphql_request, health_request, open_stream

__all__ = ["percentile", "victim"]

EXAMPLES = 3
RETRY_DELAY = 0.05  # seconds after a refused connection, so a worker does not spin


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (NaN when empty)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(EXAMPLES)),
            "p50_ms": percentile(self.latencies, 0.50) * 1000,
            "p99_ms": percentile(self.latencies, 0.99) * 1000,
            "max_ms": max(self.latencies, default=math.nan) * 1000,
        }


async def _worker(
    host: str,
    port: int,
    requests: list[bytes],
    first: int,
    deadline: float,
    timeout: float,
    tally: _Tally,
) -> None:
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    index = first
    while time.perf_counter() < deadline:
        request = requests[index % len(requests)]
        index += 1
        started = time.perf_counter()
        error: str | None = None
        keep = False
        try:
            async with asyncio.timeout(timeout):
                if stream is None:
                    stream = await open_stream(host, port)
                answer = await exchange(*stream, request)
        except TimeoutError:
            error = "client timeout"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as broken:
            error = type(broken).__name__
        else:
            keep = not answer.closes
            if answer.status != 200 or answer.codes:
                error = answer.code
        tally.latencies.append(min(time.perf_counter() - started, timeout))
        if error is not None:
            tally.errors[error] += 1
        if not keep:
            # A timed-out or broken exchange leaves the connection in an unknown state.
            if stream is not None:
                stream[1].close()
                stream = None
            if error is not None:
                await asyncio.sleep(RETRY_DELAY)
    if stream is not None:
        stream[1].close()


async def _probe(
    host: str, port: int, deadline: float, interval: float, timeout: float, tally: _Tally
) -> None:
    request = health_request(host, port)
    while (started := time.perf_counter()) < deadline:
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await open_stream(host, port)
                answer = await exchange(reader, writer, request)
            if answer.status != 200:
                tally.errors[answer.code] += 1
        except TimeoutError:
            tally.errors["probe timeout"] += 1
        except (OSError, asyncio.IncompleteReadError) as broken:
            tally.errors[type(broken).__name__] += 1
        finally:
            if writer is not None:
                writer.close()
        tally.latencies.append(min(time.perf_counter() - started, timeout))
        # The next probe `interval` after this one began, or at once after a slow one.
        await asyncio.sleep(max(0.0, started + interval - time.perf_counter()))


async def victim(command: dict[str, Any]) -> dict[str, Any]:
    """Run the victim's load and probes for command["duration"] s; their summaries."""
    host, port = command["host"], command["port"]
    headers = command.get("headers", ())
    requests = [graphql_request(host, port, body, headers) for body in command["bodies"]]
    concurrency: int = command["concurrency"]
    load, probes = _Tally(), _Tally()
    started = time.perf_counter()
    deadline = started + command["duration"]
    spacing = max(1, len(requests) // concurrency)
    await asyncio.gather(
        *(
            _worker(host, port, requests, n * spacing, deadline, command["timeout"], load)
            for n in range(concurrency)
        ),
        _probe(host, port, deadline, command["probe_interval"], command["probe_timeout"], probes),
    )
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "load": load.summary(), "probes": probes.summary()}
