"""`gateway serve --workers N`: N worker processes on one listening socket.

    parent   migrations and demo data, once; binds host:port; forks the workers; passes
             SIGTERM/SIGINT on and waits; exits with the first failing worker's status
    worker   its own app (create_app) and pool, uvicorn on the inherited socket; the kernel
             hands each new connection to one of them

GATEWAY_POOL_MAX is the deployment's budget: each worker's pool gets an equal share
(`worker_settings`), so N workers never hold more connections than one would. A worker's
migrations find nothing pending (the parent applied them; the advisory locks serialise any
that race). With GATEWAY_METRICS_PORT, worker i serves its own /metrics on that port + i.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any

from gateway.settings import Settings

__all__ = ["listening_socket", "run_workers", "worker_settings"]


def worker_settings(settings: Settings, workers: int, index: int) -> Settings:
    """Worker `index`'s settings: an equal share of the pool budget, its metrics port."""
    share = max(1, settings.max_connections // workers)
    return replace(
        settings,
        max_connections=share,
        min_connections=min(settings.min_connections, share),
        metrics_port=None if settings.metrics_port is None else settings.metrics_port + index,
    )


def run_workers(
    settings: Settings,
    workers: int,
    *,
    prepare: Callable[[], Coroutine[Any, Any, None]],
    serve: Callable[[Settings, list[socket.socket]], int],
) -> int:
    """Run `prepare()` once, then `serve(settings_i, [socket])` in `workers` processes."""
    if settings.max_connections < workers:
        print(
            f"gateway: GATEWAY_POOL_MAX ({settings.max_connections}) is the budget of all "
            f"{workers} workers together; give each at least one connection.",
            file=sys.stderr,
        )
        return 2
    asyncio.run(prepare())
    listener = listening_socket(settings.host, settings.port)
    context = multiprocessing.get_context("fork")  # the app and services need no pickling
    processes = [
        context.Process(
            target=_worker,
            args=(serve, worker_settings(settings, workers, index), listener),
            name=f"gateway-worker-{index}",
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    print(
        f"{workers} workers on {settings.host}:{settings.port} "
        f"(pids {', '.join(str(p.pid) for p in processes)}), "
        f"{worker_settings(settings, workers, 0).max_connections} pool connections each",
        flush=True,
    )
    _pass_signals_on(processes)
    for process in processes:
        process.join()
    listener.close()
    failed = [process.exitcode for process in processes if process.exitcode]
    return failed[0] if failed else 0


def _worker(
    serve: Callable[[Settings, list[socket.socket]], int],
    settings: Settings,
    listener: socket.socket,
) -> None:
    # uvicorn shuts down gracefully on SIGTERM, then raises it again with the handler found
    # before it: a normal exit here, not death by the signal (the parent's is not ours).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_quietly)
    sys.exit(serve(settings, [listener]))


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on an accepted socket only when its proto
    # says TCP, and without it Nagle's algorithm held every answer's body until the client's
    # delayed ACK: 44 ms per keep-alive request (benchmarks.scale: 23 requests/s, not 900).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


def _pass_signals_on(processes: Sequence[Any]) -> None:
    def stop(signum: int, frame: object) -> None:
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # each shuts down gracefully

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
