"""The garbage collector tuned for serving: startup's objects frozen out of collections.

A large answer allocates objects by the hundred thousand (rows, result dicts, lists), and
almost all of them live until the answer is sent, so the collector promotes them and soon
runs a full collection, which walks every object in the process: modules, the schema, the
pool. Those are most of the heap, and they live as long as the process anyway. Frozen
(`gc.freeze()`) once startup is done, they are left out of every later collection: a full
collection then walks only what requests allocated. On the benchmark's nested queries this
took a quarter of a request's time and most of its p99 (README, Performance); raising the
young-collection threshold as well made no further difference there, so it is left alone.

Reference cycles are still collected as before. The objects are unfrozen when the app shuts
down. `Settings(gc_tuning=False)` (GATEWAY_GC_TUNING=0) leaves the collector alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["tuned_garbage_collector"]


@contextmanager
def tuned_garbage_collector() -> Iterator[None]:
    """Freeze every object that exists now, for as long as the block runs."""
    gc.collect()  # what startup left as garbage is freed now, not frozen for good
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
