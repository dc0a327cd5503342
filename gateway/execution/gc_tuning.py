"""The garbage collector tuned for serving: startup's objects frozen out of collections,
and young collections made rarer.

A large answer allocates objects by the hundred thousand (rows, result dicts, lists), and
almost all of them live until the answer is sent, so the collector promotes them and soon
runs a full collection, which walks every object in the process: modules, the schema, the
pool. Those are most of the heap, and they live as long as the process anyway. Frozen
(`gc.freeze()`) once startup is done, they are left out of every later collection: a full
collection then walks only what requests allocated. On the benchmark's nested queries this
took a quarter of a request's time and most of its p99 (README, Performance).

The young generation is then collected every YOUNG_THRESHOLD allocations instead of
Python's 700: a 500-user answer triggers hundreds of young collections, each of which walks
objects that all survive it. Measured side by side in the harness, 20,000 took the nested
workloads from 0.42 to 0.46 (50 users) and 0.45 to 0.49 (500 users) of the floor; 50,000
did no better. Memory stays flat (benchmarks/results/memory.md).

Reference cycles are still collected, a little later. The objects are unfrozen and the
threshold restored when the app shuts down. `Settings(gc_tuning=False)`
(GATEWAY_GC_TUNING=0) leaves the collector alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "tuned_garbage_collector"]

YOUNG_THRESHOLD = 20_000


@contextmanager
def tuned_garbage_collector() -> Iterator[None]:
    """Freeze every object that exists now and raise the young generation's threshold,
    for as long as the block runs."""
    gc.collect()  # what startup left as garbage is freed now, not frozen for good
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
