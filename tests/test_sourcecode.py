"""The linters run inside the test suite, so CI's one test command enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPED_PACKAGES = [p for p in ("gateway", "services") if (ROOT / p).is_dir()]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_code_is_formatted_with_ruff() -> None:
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_passes() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_framework_and_services() -> None:
    result = run("mypy", *TYPED_PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr
