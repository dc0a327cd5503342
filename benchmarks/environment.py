"""What a benchmark ran on, for the header of its results: the machine and the software."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

__all__ = ["machine", "software"]


def machine() -> str:
    """CPU model, core count and kernel, e.g. "AMD EPYC 7B13, 2 cores, Linux 6.1, ..."."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        model = platform.processor() or model
    cores = os.cpu_count()
    return f"{model}, {cores} cores, {platform.system()} {platform.release()}, shared and noisy"


def software(
    server_version: str, *, embedded: bool, workers: str, packages: Mapping[str, str]
) -> str:
    """Python, PostgreSQL, uvicorn and `packages` ({label: distribution name}) with versions.

    software("18.6", embedded=True, workers="1 worker", packages={"asyncpg": "asyncpg"})
    """
    http = "httptools" if find_spec("httptools") else "h11"
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    where = "embedded, same machine, Unix socket" if embedded else "DATABASE_URL"
    versions = ", ".join(f"{label} {version(name)}" for label, name in packages.items())
    return (
        f"Python {platform.python_version()}, PostgreSQL {server_version} ({where}), "
        f"uvicorn {version('uvicorn')} ({http}, {loop} loop, {workers}), {versions}"
    )
