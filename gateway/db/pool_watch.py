"""PoolUsageWatch: warn, at most once per interval, when the shared pool is nearly full.

The gateway checks the pool as each GraphQL request starts; past `threshold` (80 %) of its
maximum size in use, it logs one warning on logger `gateway.pool`, then stays quiet for
`interval` seconds (`Settings.pool_warning_interval`) however many requests see the same.

    watch = PoolUsageWatch(threshold=0.8, interval=60.0)
    watch.check(pool)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import asyncpg

__all__ = ["PoolUsageWatch"]

logger = logging.getLogger("gateway.pool")


class PoolUsageWatch:
    """Logs one warning per `interval` while more than `threshold` of the pool is in use."""

    def __init__(
        self,
        *,
        threshold: float = 0.8,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.interval = interval
        self._clock = clock
        self._last_warning: float | None = None

    def check(self, pool: asyncpg.Pool) -> None:
        """Warn if `pool` is past the threshold and no warning was logged this interval."""
        if pool.is_closing():
            return
        max_size = pool.get_max_size()
        used = pool.get_size() - pool.get_idle_size()
        if max_size <= 0 or used / max_size <= self.threshold:
            return
        now = self._clock()
        if self._last_warning is not None and now - self._last_warning < self.interval:
            return
        self._last_warning = now
        logger.warning(
            "The connection pool is %d%% used (%d of at most %d connections); requests will "
            "wait for a connection when it is full. Raise GATEWAY_POOL_MAX if the database "
            "allows, or find what holds connections (slow queries, long transactions). "
            "Next warning in %gs at the earliest.",
            round(100 * used / max_size),
            used,
            max_size,
            self.interval,
        )
