"""Running many awaitables at once: resolvers' in tasks, the executor's own by hand.

`settle_tasks(awaitables)` runs resolver results as asyncio tasks, as graphql-core does: a
resolver may use `asyncio.timeout()` (the pool's wait does), which cancels the task it runs
in, so it must have its own. With batch fields there are a few per level, not one per row.

`settle_all(coroutines)` runs the executor's own coroutines (one per field of a level) by
stepping them as asyncio's Task would, without a task each: they only wait on futures and
never on a timeout of their own. Each is resumed when what it waits for is done, so the
loads its resolvers make join the batches of their round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator, Sequence
from typing import Any, TypeVar, cast

__all__ = ["run_sync_if_possible", "settle_all", "settle_tasks"]

T = TypeVar("T")


async def settle_tasks(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    """Each awaitable's value, or the Exception it raised, in order; each runs as a task.

    Cancelling the caller cancels the tasks; a task cancelled on its own cancels the caller
    (asyncio.gather's behaviour, which graphql-core relies on).
    """
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        await asyncio.wait(tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    results: list[Any] = []
    for task in tasks:
        if task.cancelled():
            raise asyncio.CancelledError
        error = task.exception()
        results.append(task.result() if error is None else error)
    return results


async def settle_all(coroutines: Sequence[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Each coroutine's value, or the Exception it raised, in order.

    Each is resumed when what it waits for is done, as its own task would be: one
    that yields bare (asyncio.sleep(0)) runs again after one loop iteration, without waiting
    for the others' futures, so loads it makes then join the batch of their round.
    A BaseException that is not an Exception (cancellation, KeyboardInterrupt) closes the
    coroutines still pending and propagates, as it would out of asyncio.gather.
    """
    steppers = coroutines
    results: list[Any] = [None] * len(coroutines)
    ready = list(range(len(coroutines)))
    waiting: dict[int, asyncio.Future[Any]] = {}
    try:
        while ready or waiting:
            again: list[int] = []  # resumed after one loop iteration
            for index in ready:
                try:
                    yielded = steppers[index].send(None)
                except StopIteration as stop:
                    results[index] = stop.value
                    continue
                except Exception as error:  # the resolver's own failure: its result
                    results[index] = error
                    continue
                if yielded is None:
                    again.append(index)
                elif asyncio.isfuture(yielded):
                    # What Task.__step does before it waits on a future.
                    yielded._asyncio_future_blocking = False
                    if yielded.done():
                        again.append(index)
                    else:
                        waiting[index] = yielded
                else:
                    steppers[index].close()
                    results[index] = RuntimeError(f"Awaitable yielded {yielded!r}, not a future.")
            ready = []
            if again:
                await asyncio.sleep(0)
                ready = again
            elif waiting:
                await _first_done(list(waiting.values()))
            for index in [index for index, future in waiting.items() if future.done()]:
                del waiting[index]
                ready.append(index)
            ready.sort()  # in the order they were given, as graphql-core would resume them
    except BaseException:
        for index in {*ready, *waiting}:
            steppers[index].close()
        raise
    return results


async def _first_done(futures: list[asyncio.Future[Any]]) -> None:
    """Wait until one of the futures is done, without taking its result or exception (the
    awaitable that waits on it receives them when it is stepped again)."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def one_done(_: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(one_done)
    try:
        await waiter
    finally:
        for future in futures:
            future.remove_done_callback(one_done)


def run_sync_if_possible(coroutine: Coroutine[Any, Any, T]) -> T | Coroutine[Any, Any, T]:
    """The coroutine's value if it completes without waiting, else a coroutine to await.

    graphql-core answers synchronously when no resolver is async (`execute_sync` relies on
    it); an executor written as coroutines keeps that by running the first step here.
    """
    try:
        first = coroutine.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    except BaseException:
        coroutine.close()
        raise
    return _await_rest(coroutine, first)


async def _await_rest(coroutine: Coroutine[Any, Any, T], first: Any) -> T:
    return cast(T, await _Resumed(coroutine, first))


class _Resumed:
    """An awaitable that hands `first` (what the coroutine yielded) to the running task,
    then drives the coroutine on, exactly as `await coroutine` would have."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coroutine = coroutine
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, yielded = self._coroutine, self._first
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # thrown in by the task: cancellation
                try:
                    yielded = coroutine.throw(error)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coroutine.send(sent)
            except StopIteration as stop:
                return stop.value
