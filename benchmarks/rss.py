"""The resident set size of a running server, sampled at a steady pace while a benchmark runs.

    async with sampling_rss(server.process.pid, interval=1.0) as samples:
        ...  # drive the server; `samples` grows by one Sample a second

A sample is the RSS of the process plus its descendants (a uvicorn started with --workers
forks them), so no server memory is missed whichever way it was started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped]  # ships no type information

__all__ = ["Sample", "resident_size", "sampling_rss"]


@dataclass(frozen=True)
class Sample:
    """The resident set size `rss` (bytes) `seconds` after sampling started."""

    seconds: float
    rss: int


def resident_size(pid: int) -> int:
    """RSS in bytes of process `pid` and all its descendants; psutil.NoSuchProcess if it exited."""
    process = psutil.Process(pid)
    total: int = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a child that exited between the listing and the reading holds nothing
    return total


@asynccontextmanager
async def sampling_rss(pid: int, *, interval: float = 1.0) -> AsyncIterator[list[Sample]]:
    """Sample `pid`'s RSS now and every `interval` seconds until the block ends, then once more.

    Samples stop, without an error, when the process exits; the caller notices it exited.
    """
    samples: list[Sample] = []
    started = time.monotonic()

    def take() -> bool:
        try:
            samples.append(Sample(time.monotonic() - started, resident_size(pid)))
        except psutil.NoSuchProcess:
            return False
        return True

    async def sample_until_cancelled() -> None:
        tick = 0
        while take():
            tick += 1
            # Sleep to the next tick on the clock, so a slow reading does not shift the rest.
            await asyncio.sleep(max(0.0, started + tick * interval - time.monotonic()))

    task = asyncio.create_task(sample_until_cancelled())
    try:
        yield samples
    finally:
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error  # sampling broke off early (AccessDenied, ...): the series is partial
        take()
