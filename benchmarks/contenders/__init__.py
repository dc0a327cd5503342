"""The contenders: each one a uvicorn factory answering the same GraphQL POST bodies.

- `floor`: hand-written SQL on raw asyncpg, orjson, a bare ASGI callable: the least work
  that produces the answer, the yardstick the others are divided by.
- `gateway`: this project, `create_app(Settings(max_page_size=500), services.SERVICES)`.
- `pgdbm`: the same schema shape in Strawberry with dataloaders, on the `pgdbm` package.
- `gateway_auth`: the gateway with a bearer token verified on every request.
- `naive`: the same schema shape in Strawberry, one query per row (N+1), raw asyncpg.

Each reads DATABASE_URL and BENCH_POOL_SIZE when uvicorn calls its factory.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gateway.identity.config import AuthSettings
from gateway.identity.development import mint_token

__all__ = [
    "BASELINE",
    "BENCHMARK_SECRET",
    "CONTENDERS",
    "FLOOR",
    "REFERENCE",
    "Contender",
    "baseline_contender",
    "database_url",
    "encode_cursor",
    "pool_size",
]

FLOOR = "floor"
REFERENCE = "gateway"  # whose answers the others must match
BASELINE = "baseline"  # the gateway of another checkout, timed beside this one
# The auth contender's key and the token every one of its requests carries (a day long).
BENCHMARK_SECRET = "benchmark-secret-not-for-production-0123456789"
BENCHMARK_TOKEN = mint_token(
    AuthSettings(secret=BENCHMARK_SECRET), subject="1", roles=["admin"], ttl=86_400
)


@dataclass(frozen=True, kw_only=True)
class Contender:
    """A server under test: `target` is the `module:factory` uvicorn starts, imported from
    the checkout at `root` (this one when None)."""

    key: str
    label: str
    target: str
    description: str
    root: Path | None = None
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request


CONTENDERS: list[Contender] = [
    Contender(
        key=FLOOR,
        label="floor (asyncpg + orjson)",
        target="benchmarks.contenders.floor:create",
        description="hand-written SQL on raw asyncpg (3 statements for the nested query, one "
        "for placeOrder), orjson, a bare ASGI callable that picks the operation by "
        "operationName; no GraphQL parsing or validation",
    ),
    Contender(
        key=REFERENCE,
        label="gateway",
        target="benchmarks.contenders.gateway_app:create",
        description="create_app(Settings(max_page_size=500, ...), services.SERVICES); "
        "the cost limit is raised to 5,000,000 fields (the default 5,000 refuses the nested "
        "workloads) and the pool and statement timeouts to pgdbm's patience (see "
        "gateway_app.py); every other default, limit and middleware is on",
    ),
    Contender(
        key="gateway_auth",
        label="gateway, a bearer token per request",
        target="benchmarks.contenders.gateway_app:create_with_auth",
        description="the gateway contender with GATEWAY_JWT_SECRET set; every request "
        "carries an HS256 bearer token, verified per request (signature, exp, claims)",
        headers=(("authorization", f"Bearer {BENCHMARK_TOKEN}"),),
    ),
    Contender(
        key="pgdbm",
        label="pgdbm + Strawberry",
        target="benchmarks.contenders.pgdbm_app:create",
        description="the same schema in Strawberry on FastAPI (with the validation cache the "
        "gateway also installs), pgdbm's shared pool and a manager per schema, fetch_all, "
        "Strawberry dataloaders (one statement per level)",
    ),
    Contender(
        key="naive",
        label="naive Strawberry (N+1)",
        target="benchmarks.contenders.naive:create",
        description="the same schema and stack as pgdbm + Strawberry, but raw asyncpg, one "
        "query per resolver call and no dataloaders",
    ),
]


def baseline_contender(root: Path) -> Contender:
    """This project's gateway as the checkout at `root` has it (e.g. a `git worktree` of an
    older commit), so a change is timed against what it changes in the same run."""
    root = root.resolve()
    if not (root / "gateway").is_dir() or not (root / "benchmarks" / "contenders").is_dir():
        raise ValueError(f"{root} is not a checkout of this project (no gateway/, benchmarks/)")
    revision = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return Contender(
        key=BASELINE,
        label=f"gateway at {revision or root.name}",
        target="benchmarks.contenders.gateway_app:create",
        description=f"the gateway contender of the checkout {root} (commit "
        f"{revision or 'unknown'}), same settings as that checkout's gateway_app.py",
        root=root,
    )


def database_url() -> str:
    """The DATABASE_URL the harness gave this server process."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError(
            "Contenders are started by `python -m benchmarks.run` with DATABASE_URL set."
        )
    return url


def pool_size() -> int:
    """Connections in this contender's pool (all contenders get the same)."""
    return int(os.environ.get("BENCH_POOL_SIZE", "10"))


def encode_cursor(row_id: int) -> str:
    """The API's opaque cursor for a row id (the gateway's documented format)."""
    return base64.urlsafe_b64encode(f"cursor:{row_id}".encode()).decode()
