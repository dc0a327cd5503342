"""Validation work is bounded per document: counted in Python calls, never timed.

A "call" is one Python function call seen by sys.setprofile while the gateway validates a
parsed text (deduplication included): deterministic for a given document and code, and
proportional to CPU time within one interpreter. Before this change (graphql-core's rule, no
deduplication), the issue's 480 `__typename` cost 512,847 calls (121 times the benchmark's
UsersWithOrders query, 4,238) and 85 distinct selections of one response name 179,617 (2.5
times a valid 5 KB document, 71,904); now 5,125 and 79,327 (refused).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query, parse, specified_rules
from strawberry.schema.schema import validate_document

import services
from benchmarks.cache_flood import flood_document
from benchmarks.workloads import USER_BY_ID, USERS_WITH_ORDERS
from gateway.db import count_statements
from gateway.graphql.schema import build_schema
from gateway.limits.field_merging import (
    MERGE_BUDGET,
    MERGE_REFUSAL_CODE,
    merge_work,
    merging_budget_supported,
    with_bounded_field_merging,
)
from gateway.limits.rules import Limits
from gateway.limits.selection_dedup import deduplicate_selections
from tests.asgi import serve
from tests.gateway.serving import app_for

SCHEMA = build_schema(services.SERVICES)._schema
RULES = with_bounded_field_merging(specified_rules)

_FIELDS = ("id", "name", "email", "createdAt", "__typename")
# 85 distinct selections of one response name: nothing for deduplication to drop.
PERMUTED_SELECTIONS = (
    "{ "
    + " ".join(
        f"user(id: 1) {{ {' '.join(fields)} }}"
        for size in (1, 2, 3)
        for fields in itertools.permutations(_FIELDS, size)
    )
    + " }"
)
# Each of 60 fragments on the same type is compared with every other one spread beside it.
FRAGMENT_PAIRS = (
    "{ "
    + " ".join(f"...F{n}" for n in range(60))
    + " }\n"
    + "\n".join(
        f"fragment F{n} on Query {{ __typename users {{ nodes {{ id }} }} }}" for n in range(60)
    )
)
# Each under the default limits (1,000 tokens, 10,000 characters), as an attacker's would be.
HOSTILE_DOCUMENTS = {
    "480 __typename": "{ " + "__typename " * 480 + "}",
    "900 names": "{ users(first: 1) { nodes { " + "name " * 900 + "} } }",
    "85 permuted selections": PERMUTED_SELECTIONS,
    "60 fragment pairs": FRAGMENT_PAIRS,
    "100 conflicting arguments": "{ "
    + " ".join(f"user(id: {n}) {{ id }}" for n in range(100))
    + " }",
}
# Relay-style colocated fragments: 20 components each select the same fields of a user.
COLOCATED_FRAGMENTS = (
    "{ users(first: 5) { nodes { "
    + " ".join(f"...F{n}" for n in range(20))
    + " } } }\n"
    + "\n".join(
        f"fragment F{n} on User {{ id name email orders(first: 5) {{ nodes {{ id total status "
        "payments { nodes { id amount } } } } }"
        for n in range(20)
    )
)


def validation_calls(query: str) -> int:
    """Python calls made by the gateway's validation of `query` (parsed beforehand)."""
    document = parse(query)
    return _calls(lambda: validate_document(SCHEMA, deduplicate_selections(document), RULES))


def _calls(work: Callable[[], Any]) -> int:
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return count


def test_graphql_core_meters_field_merging_as_the_bounded_rule_expects() -> None:
    assert merging_budget_supported()


def test_the_issues_typename_flood_costs_about_a_normal_query() -> None:
    normal = validation_calls(USERS_WITH_ORDERS)
    assert validation_calls(HOSTILE_DOCUMENTS["480 __typename"]) <= 2 * normal


@pytest.mark.parametrize("name", HOSTILE_DOCUMENTS)
def test_a_hostile_document_costs_at_most_twice_a_valid_5kb_one(name: str) -> None:
    query = HOSTILE_DOCUMENTS[name]
    limits = Limits()
    assert len(query) <= limits.max_query_length
    parse(query, max_tokens=limits.max_tokens)  # raises past the token limit
    valid_5kb = validation_calls(flood_document(1))  # 983 tokens, no repeats: linear work
    assert validation_calls(query) <= 2 * valid_5kb


@pytest.mark.parametrize(
    "query",
    [USER_BY_ID, USERS_WITH_ORDERS, get_introspection_query(), flood_document(1)],
    ids=["user-by-id", "users-with-orders", "introspection", "flood-document"],
)
def test_ordinary_queries_spend_nothing_of_the_merging_budget(query: str) -> None:
    assert merge_work(SCHEMA, deduplicate_selections(parse(query))) == 0


def test_colocated_fragments_stay_well_under_the_merging_budget() -> None:
    assert merge_work(SCHEMA, parse(COLOCATED_FRAGMENTS)) <= MERGE_BUDGET * 3 // 4


def test_merge_work_stops_at_the_budget() -> None:
    assert merge_work(SCHEMA, parse(PERMUTED_SELECTIONS)) == MERGE_BUDGET + 1


async def test_a_document_past_the_merging_budget_is_refused_with_its_code_before_any_sql(
    database_url: str,
) -> None:
    async with serve(app_for(database_url, limits=Limits(max_cost=100_000))) as client:
        with count_statements() as recorder:
            response = await client.post("/graphql", json={"query": PERMUTED_SELECTIONS})
            await asyncio.sleep(0)
        normal = await client.post(
            "/graphql", json={"query": USERS_WITH_ORDERS, "variables": {"first": 1}}
        )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [MERGE_REFUSAL_CODE]
    assert "Select each field once" in body["errors"][0]["message"]
    assert recorder.count == 0
    assert_answered(normal)


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert "errors" not in response.json()
