"""Before any timing: every contender must give the same answers, and what each one costs in SQL.

`check_answers` sends each workload's sample bodies to every contender and compares the
parsed JSON with the reference (the gateway); any difference stops the run with the path of
the first one. `count_statements` measures statements per request with pg_stat_statements:
the counter's delta over a few sequential requests, divided by their number. It does not
depend on load (dataloaders batch within one request), so it is measured once per contender
and workload, on an otherwise idle database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import httpx

from benchmarks.contenders import REFERENCE, Contender
from benchmarks.database import Database
from benchmarks.workloads import Workload

__all__ = ["STATEMENT_SAMPLE", "AnswerMismatch", "Endpoint", "check_answers", "count_statements"]

_NEW_ID = "<id of the new order>"
_HEADERS = {"content-type": "application/json", "accept": "application/json"}
STATEMENT_SAMPLE = 3  # sequential requests per contender and workload


class AnswerMismatch(AssertionError):
    """Raised when a contender's answer differs from the reference's: the run is void."""


class Endpoint(Protocol):
    """Where a contender answers (a running `Server`)."""

    @property
    def contender(self) -> Contender: ...

    @property
    def url(self) -> str: ...


async def _ask(client: httpx.AsyncClient, server: Endpoint, body: str) -> Any:
    headers = {**_HEADERS, **dict(server.contender.headers)}
    response = await client.post(server.url, content=body, headers=headers)
    if response.status_code != 200:
        raise AnswerMismatch(
            f"{server.contender.label} answered HTTP {response.status_code}: {response.text[:500]}"
        )
    answer = response.json()
    if "errors" in answer or "data" not in answer:
        raise AnswerMismatch(
            f"{server.contender.label} answered with errors: {response.text[:500]}"
        )
    return answer


def _normalize(workload: Workload, answer: Any) -> Any:
    """A mutation's new id differs by construction: check it is one, compare the rest."""
    if workload.mutates:
        placed = answer["data"]["placeOrder"]
        if not isinstance(placed.get("id"), int) or placed["id"] <= 0:
            raise AnswerMismatch(f"placeOrder answered no new order id: {placed!r}")
        placed["id"] = _NEW_ID
    return answer


def _first_difference(expected: Any, got: Any, path: str = "$") -> str | None:
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(expected.keys() | got.keys()):
            if key not in got or key not in expected:
                return f"{path}.{key}: only one of the answers has it"
            found = _first_difference(expected[key], got[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return f"{path}: {len(expected)} items, against {len(got)}"
        for index, (left, right) in enumerate(zip(expected, got, strict=True)):
            found = _first_difference(left, right, f"{path}[{index}]")
            if found:
                return found
        return None
    if expected != got or type(expected) is not type(got):
        return f"{path}: {json.dumps(expected)[:200]} against {json.dumps(got)[:200]}"
    return None


def _digest(answers: list[Any]) -> str:
    return hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()


async def check_answers(
    client: httpx.AsyncClient,
    servers: Mapping[str, Endpoint],
    workloads: Sequence[Workload],
    users: int,
) -> dict[str, dict[str, Any]]:
    """Per workload: the sample count and each contender's digest of its answers (all equal),
    or AnswerMismatch."""
    report: dict[str, dict[str, Any]] = {}
    # A run narrowed to other contenders is still checked: against the first one then.
    reference = REFERENCE if REFERENCE in servers else next(iter(servers))
    for workload in workloads:
        samples = workload.samples(users)
        answers: dict[str, list[Any]] = {}
        for key, server in servers.items():
            answers[key] = [_normalize(workload, await _ask(client, server, b)) for b in samples]
        expected = answers[reference]
        for key, got in answers.items():
            difference = _first_difference(expected, got)
            if difference is not None:
                raise AnswerMismatch(
                    f"{servers[key].contender.label} and {servers[reference].contender.label} "
                    f"answer the {workload.title!r} samples differently, at {difference}"
                )
        report[workload.key] = {
            "samples": len(samples),
            "digests": {key: _digest(got) for key, got in answers.items()},
        }
    return report


async def count_statements(
    client: httpx.AsyncClient,
    database: Database,
    servers: Mapping[str, Endpoint],
    workloads: Sequence[Workload],
    users: int,
) -> dict[tuple[str, str], tuple[float, float] | None]:
    """(workload, contender) -> (statements on the data, all statements) per request."""
    counts: dict[tuple[str, str], tuple[float, float] | None] = {}
    for workload in workloads:
        bodies = workload.bodies(users)
        for key, server in servers.items():
            await _ask(client, server, bodies[0])  # warm: connections, prepared statements
            before = await database.statements()
            for index in range(STATEMENT_SAMPLE):
                await _ask(client, server, bodies[index % len(bodies)])
            await asyncio.sleep(0.2)  # a pool's reset on release may still be in flight
            after = await database.statements()
            if before is None or after is None:
                counts[(workload.key, key)] = None
                continue
            delta = after - before
            counts[(workload.key, key)] = (
                delta.data / STATEMENT_SAMPLE,
                delta.every / STATEMENT_SAMPLE,
            )
        if workload.mutates:
            await database.restore_seed()
    return counts
