"""The contenders: each one a uvicorn factory answering the same GraphQL POST bodies.

- `floor`: hand-written SQL on raw asyncpg, orjson, a bare ASGI callable: the least work
  that produces the answer, the yardstick the others are divided by.
- `gateway`: this project, `create_app(Settings(max_page_size=500, auth=BENCHMARK_AUTH),
  services.SERVICES)`; every request carries an HS256 admin bearer token, verified per
  request (the shop's services answer most fields only to a signed-in owner or an admin).
- `gateway_unverified`: the same, the token looked up instead of verified: the gateway's
  ratio to it is what verification costs.
- `pgdbm`: the same schema shape in Strawberry with dataloaders, on the `pgdbm` package.
- `naive`: the same schema shape in Strawberry, one query per row (N+1), raw asyncpg.

Each reads DATABASE_URL and BENCH_POOL_SIZE when uvicorn calls its factory.

Whatever else of the benchmarks starts this project's gateway (the nested query, the memory
soak, the cache flood, the attack and overload runs) configures it with BENCHMARK_AUTH (in
process) or BENCHMARK_ENV (`gateway serve`) and sends BENCHMARK_HEADERS with every request.
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
    "BENCHMARK_AUTH",
    "BENCHMARK_ENV",
    "BENCHMARK_HEADERS",
    "BENCHMARK_SECRET",
    "BENCHMARK_TOKEN",
    "CONTENDERS",
    "FLOOR",
    "REFERENCE",
    "UNVERIFIED",
    "Contender",
    "baseline_contender",
    "database_url",
    "encode_cursor",
    "pool_size",
]

FLOOR = "floor"
REFERENCE = "gateway"  # whose answers the others must match
BASELINE = "baseline"  # the gateway of another checkout, timed beside this one
UNVERIFIED = "gateway_unverified"  # the gateway without the cost of verifying its token
# The key the benchmarks' gateway verifies tokens with, and the token every request to it
# carries (minted when this module is imported, valid for a day). An admin's: `users` is
# admin-only and the orders and payments of a user only its own or an admin's to see, so
# only an admin's answers hold the whole data the other contenders (no accounts) return.
BENCHMARK_SECRET = "benchmark-secret-not-for-production-0123456789"
BENCHMARK_AUTH = AuthSettings(secret=BENCHMARK_SECRET)
BENCHMARK_TOKEN = mint_token(BENCHMARK_AUTH, subject="1", roles=["admin"], ttl=86_400)
BENCHMARK_HEADERS: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {BENCHMARK_TOKEN}"),)
# The same key for a `gateway serve` process, which reads its settings from the environment.
BENCHMARK_ENV: dict[str, str] = {"GATEWAY_JWT_SECRET": BENCHMARK_SECRET}


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
        description="create_app(Settings(max_page_size=500, auth=AuthSettings(secret=...), "
        "...), services.SERVICES); every request carries an HS256 admin bearer token, "
        "verified per request (signature, exp, claims), as the shop's services require one "
        "(an admin sees all the data); the cost limit is raised to 5,000,000 fields (the "
        "default 5,000 refuses the nested workloads) and the pool and statement timeouts to "
        "pgdbm's patience (see gateway_app.py); every other default, limit and middleware is on",
        headers=BENCHMARK_HEADERS,
    ),
    Contender(
        key=UNVERIFIED,
        label="gateway, token looked up, not verified",
        target="benchmarks.contenders.gateway_app:create_unverified",
        description="the gateway contender, but the one token the harness sends is looked up "
        "instead of verified (a benchmark-only patch, never a deployment): the gateway's "
        "speed were verification free, so that the gateway's ratio to it is what verifying "
        "a token costs",
        headers=BENCHMARK_HEADERS,
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
        target=f"benchmarks.contenders.gateway_app:{_token_verifying_factory(root)}",
        description=f"the gateway contender of the checkout {root} (commit "
        f"{revision or 'unknown'}), same settings as that checkout's gateway_app.py, "
        "verifying the same admin bearer token on every request",
        root=root,
        headers=BENCHMARK_HEADERS,
    )


def _token_verifying_factory(root: Path) -> str:
    """The factory of `root`'s gateway_app.py that verifies BENCHMARK_TOKEN. A checkout from
    before the shop required tokens has `create` verifying none (it would refuse the token,
    401) and `create_with_auth` verifying it; one older still verifies no token at all."""
    path = root / "benchmarks" / "contenders" / "gateway_app.py"
    factory = path.read_text() if path.is_file() else ""
    if "def create_with_auth(" in factory:
        return "create_with_auth"
    if "BENCHMARK_AUTH" in factory:
        return "create"
    raise ValueError(
        f"{root}'s gateway contender verifies no bearer token, and every request of the "
        "benchmark carries one (the shop requires it): choose a newer checkout"
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
