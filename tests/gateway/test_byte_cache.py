"""The caches of query texts are bounded in bytes, and their size estimates cover what they hold.

The estimates are checked against tracemalloc: the memory a schema keeps after answering
distinct documents (parsed document, validation mark and plan each) must not exceed what
the caches think they hold, for pretty-printed, minified and repetitive documents.
"""

from __future__ import annotations

import gc
import logging
import re
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from graphql import parse

import services
from benchmarks.cache_flood import flood_document
from gateway.execution.byte_cache import (
    DEFAULT_CACHE_BYTES,
    DOCUMENT_BYTES_PER_TOKEN,
    PLAN_BYTES_PER_TOKEN,
    TEXT_BYTES_PER_CHAR,
    ByteBoundedLRU,
    CacheShares,
    estimated_bytes,
    token_count,
)
from gateway.graphql.schema import GatewaySchema, build_schema
from gateway.settings import Settings

MIB = 1024 * 1024


def test_the_least_recently_used_entries_leave_until_the_rest_fit() -> None:
    cache = ByteBoundedLRU[str, int](max_bytes=100)
    cache.put("a", 1, size=40)
    cache.put("b", 2, size=40)
    assert cache.get("a") == 1  # now the most recently used
    cache.put("c", 3, size=50)

    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert cache.bytes == 90


def test_an_entry_larger_than_the_budget_is_not_kept() -> None:
    cache = ByteBoundedLRU[str, int](max_bytes=100)
    cache.put("small", 1, size=10)
    cache.put("huge", 2, size=101)

    assert cache.get("huge") is None
    assert cache.get("small") == 1


def test_putting_a_key_again_replaces_its_size() -> None:
    cache = ByteBoundedLRU[str, int](max_bytes=100)
    cache.put("a", 1, size=60)
    cache.put("a", 2, size=30)

    assert (cache.get("a"), cache.bytes, len(cache)) == (2, 30, 1)


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        ByteBoundedLRU[str, int](max_bytes=-1)


def test_the_setting_is_split_between_the_four_caches() -> None:
    shares = CacheShares.split(DEFAULT_CACHE_BYTES)

    total = shares.documents + shares.validations + shares.plans + shares.persisted
    assert DEFAULT_CACHE_BYTES - 4 <= total <= DEFAULT_CACHE_BYTES
    assert shares.documents > shares.plans > shares.validations == shares.persisted > 0


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({"GATEWAY_CACHE_BYTES": "1048576"}).cache_bytes == MIB
    assert Settings.from_env({}).cache_bytes == DEFAULT_CACHE_BYTES == 64 * MIB


def _minified(query: str) -> str:
    return re.sub(r"\s*([{}():,])\s*", r"\1", re.sub(r"\s+", " ", query))


# Each shape, and how many distinct documents of it are measured.
DOCUMENT_SHAPES: dict[str, tuple[Callable[[int], str], int]] = {
    "pretty 5 KB": (flood_document, 10),
    "minified 5 KB": (lambda n: _minified(flood_document(n)), 10),
    "small": (
        lambda n: f"query Q{n} {{ user(id: {n}) {{ id name orders {{ nodes {{ total }} }} }} }}",
        50,
    ),
    "repeated fields": (lambda n: f"query Q{n} {{ " + "__typename " * 400 + "}", 20),
}
# Built once per process on first use whatever the document (visitor tables, loaders):
# not held per entry, so not in the estimates.
ONE_OFF_BYTES = 256 * 1024


def _estimate(query: str) -> int:
    """What the caches of `build_schema` count for `query` (one document, mark and plan)."""
    tokens = token_count(parse(query).loc, fallback=0)
    return (
        estimated_bytes(tokens, DOCUMENT_BYTES_PER_TOKEN)
        + estimated_bytes(len(query), TEXT_BYTES_PER_CHAR)
        + estimated_bytes(tokens, PLAN_BYTES_PER_TOKEN)
    )


@pytest.fixture
def quiet_errors() -> Iterator[None]:
    # Without a database context every resolver fails; the plans are built before that.
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


async def _retained(schema: GatewaySchema, make: Callable[[int], str], count: int) -> int:
    """Bytes still allocated after `schema` answered documents 1 to `count` of `make`."""
    for warm_up in range(3):
        await schema.execute(make(1_000_000 + warm_up))
    queries = [make(n) for n in range(1, count + 1)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for query in queries:
            await schema.execute(query)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", DOCUMENT_SHAPES)
@pytest.mark.usefixtures("quiet_errors")
async def test_the_estimates_cover_what_the_caches_hold(shape: str) -> None:
    schema = build_schema(services.SERVICES, cache_bytes=1024 * MIB)  # nothing evicted
    make, count = DOCUMENT_SHAPES[shape]

    retained = await _retained(schema, make, count)

    estimated = sum(_estimate(make(n)) for n in range(1, count + 1))
    assert retained <= estimated + ONE_OFF_BYTES
    assert estimated <= 4 * retained  # and not wildly above it (repeats: 3.2 times)


@pytest.mark.usefixtures("quiet_errors")
async def test_distinct_large_documents_keep_at_most_the_cache_budget() -> None:
    budget = 2 * MIB
    schema = build_schema(services.SERVICES, cache_bytes=budget)
    # 30 distinct documents of ~0.6 MB each when they are all kept

    retained = await _retained(schema, flood_document, 30)

    assert retained <= budget
