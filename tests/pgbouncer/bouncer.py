"""A real PgBouncer (Debian's package) in transaction pooling mode in front of a PostgreSQL.

    with running_pgbouncer(server_url, pool_size=3) as bouncer:
        bouncer.url_for("shop")   # postgresql://postgres@127.0.0.1:<port>/shop, pooled

One `*` database entry serves every database of the server (the suite makes one per test),
logging in as the server URL's user with its password, so clients authenticate with
`auth_type = any`. As root, PgBouncer (which refuses root) runs as the owner of the server's
socket directory (the embedded server's system user) or as Debian's `postgres`.

`python -m tests.pgbouncer.bouncer ENV_FILE` starts an embedded PostgreSQL (or uses
TEST_DATABASE_URL's server) and a PgBouncer in front of it, writes the variables
scripts/test-through-pgbouncer runs the suite with to ENV_FILE, and runs until SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.db.embedded import EmbeddedPostgres, with_database
from tests.gateway_process import accepts_connections, free_port

__all__ = ["PgBouncer", "pgbouncer_binary", "running_pgbouncer"]

INSTALL_ADVICE = (
    "PgBouncer is not installed: run scripts/setup-pgbouncer (as root), or "
    "`sudo apt-get install --no-install-recommends pgbouncer`."
)
START_LIMIT_S = 10.0


def pgbouncer_binary() -> str:
    """The pgbouncer executable; AssertionError saying what to install when it is missing."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    assert found is not None, INSTALL_ADVICE
    return found


class PgBouncer:
    """A running PgBouncer: `url_for(database)` reaches `database` through it."""

    def __init__(self, port: int, user: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.user = user
        self.process = process
        self.log = log

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


def _server_entry(server_url: str) -> tuple[str, str]:
    """The `*` entry's connection string for `server_url`, and its user."""
    parts = urlsplit(server_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    user = unquote(parts.username or "postgres")
    fields = [f"host={host}", f"port={parts.port or 5432}", f"user={user}"]
    if parts.password:
        fields.append(f"password={unquote(parts.password)}")
    return " ".join(fields), user


def _run_as(server_url: str) -> str | None:
    """Whom PgBouncer runs as (None: this user, who is not root)."""
    if os.geteuid() != 0:
        return None
    host = parse_qs(urlsplit(server_url).query).get("host", [""])[0]
    if host.startswith("/"):
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name
    return "postgres"


@contextlib.contextmanager
def running_pgbouncer(server_url: str, *, pool_size: int) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of `server_url`'s server, `pool_size` server
    connections per database at most; stopped (and its files removed) at the end."""
    binary = pgbouncer_binary()
    entry, user = _server_entry(server_url)
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="gateway-pgbouncer-"))
    ini = workdir / "pgbouncer.ini"
    log = workdir / "pgbouncer.log"
    ini.write_text(
        "[databases]\n"
        f"* = {entry}\n"
        "\n[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = any\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 2000\n"
        # A dropped database (each test's, WITH (FORCE)) leaves no pool waiting on it long.
        "server_login_retry = 1\n"
        f"logfile = {log}\n"
    )
    owner = _run_as(server_url)
    if owner is not None:
        record = pwd.getpwnam(owner)
        os.chown(workdir, record.pw_uid, record.pw_gid)
        ini.chmod(0o644)
    command = [binary, *(["-u", owner] if owner else []), str(ini)]
    # Its log lines go to the logfile too: stderr, to a file that never fills a pipe.
    with (workdir / "stderr").open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while not accepts_connections(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"PgBouncer did not start: {_tail(workdir / 'stderr')}{_tail(log)}"
                )
            time.sleep(0.05)
        yield PgBouncer(port, user, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _tail(log: Path) -> str:
    with contextlib.suppress(OSError):
        return log.read_text()[-2000:]
    return ""


def _serve(env_file: Path) -> None:
    """The suite's server and PgBouncer, until SIGTERM (scripts/test-through-pgbouncer)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    external = os.environ.get("TEST_DATABASE_URL")
    server = None
    if external:
        url = external
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="gateway-pgbouncer-pg-"))
        server = EmbeddedPostgres.start(run_dir / "data", delete=True)
        url = server.url
    try:
        with running_pgbouncer(url, pool_size=int(os.environ.get("PGBOUNCER_POOL_SIZE", "5"))) as (
            bouncer
        ):
            database = urlsplit(url).path.lstrip("/") or "postgres"
            env_file.write_text(
                f"TEST_DATABASE_URL={bouncer.url_for(database)}\n"
                f"TEST_DIRECT_DATABASE_URL={with_database(url, database)}\n"
                f"PGBOUNCER_LOG={bouncer.log}\n"
            )
            bouncer.process.wait()
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
