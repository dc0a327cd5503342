"""npm packages of the Node-driven tests (examples/frontend, the graphql-http audits, the
client pages): installed with `npm ci` only when node_modules does not match the folder's
package-lock.json (a marker file holds the lock's sha256), so a run after the first is quick.

The suite runs in several processes (pytest-xdist), whose session fixtures may install and
build the same folder at once: `exclusively(folder)` makes them take turns."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NPM_LIMIT = 600  # seconds for `npm ci` on a slow network; not a performance assertion
MISSING_NODE = (
    "Node.js and npm are needed by the tests in tests/browser, and `{missing}` is not on PATH: "
    "`sudo apt-get install nodejs npm` (scripts/setup-browser does it when run as root, and "
    "./scripts/test runs scripts/setup-browser)."
)


def npm(folder: Path, *args: str) -> str:
    """Run `npm *args` in `folder` (failing the test with npm's output); its stdout."""
    env = {name: value for name, value in os.environ.items() if name != "GATEWAY_URL"}
    result = subprocess.run(
        ["npm", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=NPM_LIMIT,
        check=False,
    )
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def install(folder: Path) -> None:
    """`npm ci` in `folder`, unless its node_modules were installed from this very lock."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(MISSING_NODE.format(missing=tool), pytrace=False)
    marker = folder / "node_modules" / ".installed-lock-sha256"
    lock = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
    if not marker.is_file() or marker.read_text() != lock:
        npm(folder, "ci", "--no-audit", "--no-fund")
        marker.write_text(lock)


def node(folder: Path, *args: str) -> str:
    """Run `node *args` in `folder` (failing the test with its output); its stdout."""
    result = subprocess.run(
        ["node", *args], cwd=folder, capture_output=True, text=True, timeout=NPM_LIMIT, check=False
    )
    assert result.returncode == 0, f"node {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@contextmanager
def exclusively(folder: Path) -> Iterator[None]:
    """Hold `folder`'s lock (a file lock, across the suite's processes) while inside."""
    with (folder / ".npm.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
