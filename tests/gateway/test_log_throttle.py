"""RepeatedLogFilter on real records: asyncio's own accept() EMFILE report, the gateway's
warnings, request lines."""

from __future__ import annotations

import asyncio
import errno
import io
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.http.log_throttle import RepeatedLogFilter, install_log_throttle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def captured(logger_name: str, throttle: RepeatedLogFilter) -> Iterator[io.StringIO]:
    """What a handler with `throttle` on `logger_name` writes (tracebacks included)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(throttle)
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def report_accept_out_of_descriptors(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """What asyncio's selector loop does when accept() fails with EMFILE (the same call,
    with a raised OSError and its traceback)."""
    try:
        raise OSError(errno.EMFILE, "Too many open files")
    except OSError as exc:
        loop.call_exception_handler(
            {
                "message": "socket.accept() out of system resource",
                "exception": exc,
                "socket": sock,
            }
        )


def test_asyncio_accept_out_of_descriptors_storm_is_cut_to_a_few_lines_and_counted() -> None:
    clock = Clock()
    throttle = RepeatedLogFilter(max_lines=3, interval=60.0, clock=clock)
    loop = asyncio.new_event_loop()
    try:
        with socket.socket() as sock, captured("asyncio", throttle) as output:
            for _ in range(1000):
                report_accept_out_of_descriptors(loop, sock)
            during_the_storm = output.getvalue()
            clock.now += 60
            report_accept_out_of_descriptors(loop, sock)
            after = output.getvalue()[len(during_the_storm) :]
    finally:
        loop.close()

    assert during_the_storm.count("socket.accept() out of system resource") == 3
    assert during_the_storm.count("Traceback") == 3
    assert "[997 similar lines suppressed in the last 60s]" in after
    assert after.count("socket.accept() out of system resource") == 1


def test_each_message_has_its_own_allowance_and_info_lines_always_pass() -> None:
    clock = Clock()
    throttle = RepeatedLogFilter(max_lines=2, interval=10.0, clock=clock)
    logger = logging.getLogger("gateway.test_log_throttle")

    with captured(logger.name, throttle) as output:
        for n in range(5):
            logger.warning("Closed a connection after %gs", 1.0)
            logger.warning("Refused request %d with SERVER_BUSY", n)  # one template
            logger.info("request %d answered", n)
    lines = output.getvalue().splitlines()

    assert lines.count("Closed a connection after 1s") == 2
    assert lines.count("Refused request 0 with SERVER_BUSY") == 1
    assert lines.count("Refused request 1 with SERVER_BUSY") == 1
    assert not [line for line in lines if "Refused request 2" in line]
    assert [line for line in lines if "answered" in line] == [
        f"request {n} answered" for n in range(5)
    ]


def test_a_dropped_count_survives_a_percent_sign_in_the_message() -> None:
    clock = Clock()
    throttle = RepeatedLogFilter(max_lines=1, interval=5.0, clock=clock)
    logger = logging.getLogger("gateway.test_log_throttle.percent")

    with captured(logger.name, throttle) as output:
        for _ in range(3):
            logger.warning("The pool is %d%% used", 95)
        clock.now += 5
        logger.warning("The pool is %d%% used", 96)

    assert output.getvalue().splitlines() == [
        "The pool is 95% used",
        "The pool is 96% used [2 similar lines suppressed in the last 5s]",
    ]


def test_install_puts_one_throttle_on_each_handler_of_the_named_loggers() -> None:
    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("gateway.test_log_throttle.install")
    logger.addHandler(handler)
    try:
        install_log_throttle(loggers=[logger.name])
        install_log_throttle(loggers=[logger.name])  # twice: still one
        throttles = [f for f in handler.filters if isinstance(f, RepeatedLogFilter)]
    finally:
        logger.removeHandler(handler)

    assert len(throttles) == 1
