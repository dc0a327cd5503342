"""RepeatedLogFilter: at most N lines per interval of the same warning, with a count of
the ones dropped.

An attacker can make one line repeat as fast as the server accepts connections: asyncio's
"socket.accept() out of system resource" (logger `asyncio`, with a traceback) on every
accept at the file limit, uvicorn's "Invalid HTTP request received.", the gateway's own
SERVER_BUSY and header-timeout warnings. Unfiltered, that grew the log by 310 MB in 80 s.

A record at WARNING or above passes while fewer than `max_lines` records with the same
logger, level and message template passed in the current `interval`; the others are
dropped. The first that passes in a later interval says how many were dropped:

    WARNING: ... Closed a connection ... [1234 similar lines suppressed in the last 60s]

INFO and below (one line per request) are never dropped.

    install_log_throttle(max_lines=10, interval=60.0)   # on every handler that writes
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["RepeatedLogFilter", "install_log_throttle"]

# Loggers whose handlers get the filter: the root (the gateway's loggers and asyncio's
# propagate to it) and uvicorn's, which write through handlers of their own.
_LOGGERS_WITH_HANDLERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
_MAX_KEYS = 1024  # distinct messages tracked; the oldest is forgotten past this


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0


class RepeatedLogFilter(logging.Filter):
    """Pass at most `max_lines` records of one message per `interval` seconds (see module)."""

    def __init__(
        self,
        *,
        max_lines: int = 10,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.max_lines = max_lines
        self.interval = interval
        self._clock = clock
        self._windows: OrderedDict[tuple[str, int, str], _Window] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window.started >= self.interval:
            dropped = window.suppressed if window is not None else 0
            self._windows[key] = window = _Window(started=now)
            self._windows.move_to_end(key)
            if len(self._windows) > _MAX_KEYS:
                self._windows.popitem(last=False)
            if dropped:
                self._mark_suppressed(record, dropped)
        if window.passed >= self.max_lines:
            window.suppressed += 1
            return False
        window.passed += 1
        return True

    def _mark_suppressed(self, record: logging.LogRecord, dropped: int) -> None:
        # The message is formatted here, once, so the note cannot meet a stray `%`.
        record.msg = (
            f"{record.getMessage()} [{dropped} similar lines suppressed in the last "
            f"{self.interval:g}s]"
        )
        record.args = None


def install_log_throttle(
    *, max_lines: int = 10, interval: float = 60.0, loggers: Iterable[str] = _LOGGERS_WITH_HANDLERS
) -> None:
    """Add a RepeatedLogFilter to every handler of `loggers` (the root and uvicorn's).

    Call it once logging is configured (after uvicorn's Config is made); each handler gets
    its own filter, so a record is counted once per handler that would write it.
    """
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RepeatedLogFilter) for f in handler.filters):
                handler.addFilter(RepeatedLogFilter(max_lines=max_lines, interval=interval))
