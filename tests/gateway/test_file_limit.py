"""The open-file limit raised at startup, and the connection limit kept below it."""

from __future__ import annotations

import subprocess
import sys

from gateway.http.file_limit import client_connection_bounds
from gateway.settings import PROJECT_ROOT

RAISE_AND_REPORT = (
    "import resource; from gateway.http.file_limit import raise_open_file_limit; "
    "print(raise_open_file_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))"
)


def test_the_soft_file_limit_is_raised_to_the_hard_limit() -> None:
    # A process started with the common 1024 soft limit under a higher hard one.
    result = subprocess.run(
        ["prlimit", "--nofile=256:4096", sys.executable, "-c", RAISE_AND_REPORT],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.split() == ["4096", "4096", "4096"]


def test_a_connection_limit_that_fits_is_kept() -> None:
    assert client_connection_bounds(1000, 1_048_576, reserved=85) == (1000, 100, 2048)


def test_a_connection_limit_over_the_file_limit_is_lowered_below_it() -> None:
    limit, overflow, accept_batch = client_connection_bounds(1000, 1024, reserved=85)

    assert limit < 1000
    assert overflow >= 10
    # Two accept batches of sockets not yet closed still fit: accept() never hits EMFILE.
    assert limit + overflow + 2 * accept_batch + 85 <= 1024


def test_a_small_file_limit_keeps_room_for_a_burst_of_accepts() -> None:
    # The slow-clients test's server: 200 descriptors, a pool of 4.
    limit, overflow, accept_batch = client_connection_bounds(1000, 200, reserved=4 + 1 + 64)

    assert accept_batch >= 1
    assert limit + overflow + 2 * accept_batch + 69 <= 200


def test_a_tiny_file_limit_still_serves_one_connection() -> None:
    limit, overflow, accept_batch = client_connection_bounds(1000, 50, reserved=85)

    assert limit >= 1
    assert overflow >= 1
    assert accept_batch >= 1
