"""Running a benchmark module as its README command does, on the test's database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["PNG_SIGNATURE", "ROOT", "run_benchmark"]

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_benchmark(module: str, *arguments: str, database_url: str) -> str:
    """`python -m <module> <arguments>` against `database_url`; its stdout. Fails the test,
    with the end of its stderr, when it exits non-zero."""
    result = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout
