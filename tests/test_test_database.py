"""The suite's own PostgreSQL leaves nothing behind: not on failure, not when interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent

INNER_TESTS = """
import os, time
from pathlib import Path

def test_uses_the_server_then_fails(server_url):
    Path(os.environ["MARKER"]).write_text(str(os.getpid()))
    assert False, "failing on purpose"

def test_uses_the_server_then_hangs(server_url):
    Path(os.environ["MARKER"]).write_text(str(os.getpid()))
    time.sleep(120)
"""


def leftovers(pid: int) -> tuple[list[Path], list[int]]:
    dirs = list(Path(tempfile.gettempdir()).glob(f"gateway-test-pg-{pid}-*"))
    servers = [
        proc.pid
        for proc in psutil.process_iter(["name", "cmdline"])
        if proc.info["name"] == "postgres"
        and any(f"gateway-test-pg-{pid}-" in part for part in proc.info["cmdline"] or ())
    ]
    return dirs, servers


def start_inner_run(tmp_path: Path, test_name: str) -> tuple[subprocess.Popen[bytes], Path]:
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    marker = tmp_path / "started"
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env["MARKER"] = str(marker)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{tmp_path / 'test_inner.py'}::{test_name}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, marker


def wait_for(marker: Path, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if marker.exists() or process.poll() is not None:
            return
        time.sleep(0.1)


def test_a_failing_run_stops_and_deletes_its_server(tmp_path: Path) -> None:
    process, marker = start_inner_run(tmp_path, "test_uses_the_server_then_fails")
    assert process.wait(timeout=120) == 1
    assert marker.exists()
    assert leftovers(process.pid) == ([], [])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_and_deletes_its_server(
    tmp_path: Path, signum: signal.Signals
) -> None:
    process, marker = start_inner_run(tmp_path, "test_uses_the_server_then_hangs")
    wait_for(marker, process)
    assert marker.exists(), "the inner run never reached its test"
    dirs, servers = leftovers(process.pid)
    assert len(dirs) == 1
    assert servers
    process.send_signal(signum)
    process.wait(timeout=60)
    assert leftovers(process.pid) == ([], [])


def test_a_killed_runs_server_is_swept_up_by_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "killed").mkdir()
    killed, marker = start_inner_run(tmp_path / "killed", "test_uses_the_server_then_hangs")
    wait_for(marker, killed)
    killed.kill()  # SIGKILL: no teardown can run
    killed.wait(timeout=30)
    assert leftovers(killed.pid) != ([], [])
    (tmp_path / "next").mkdir()
    following, _ = start_inner_run(tmp_path / "next", "test_uses_the_server_then_fails")
    following.wait(timeout=120)
    assert leftovers(killed.pid) == ([], [])
