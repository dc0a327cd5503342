"""nests_deeper_than agrees with the real nesting of JSON, and is not fooled by strings."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gateway.http.json_depth import (
    MAX_JSON_DEPTH,
    JsonTooDeepError,
    loads_within_depth,
    nests_deeper_than,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


def random_value(rng: random.Random, budget: int) -> Any:
    """A random JSON value nesting at most `budget` levels, with strings full of brackets,
    quotes, backslashes and non-ASCII characters."""
    kind = rng.choice(["list", "dict", "string", "number", "literal"] if budget else ["string"])
    if kind == "list":
        return [random_value(rng, budget - 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {random_string(rng): random_value(rng, budget - 1) for _ in range(rng.randint(0, 3))}
    if kind == "string":
        return random_string(rng)
    if kind == "number":
        return rng.choice([0, -1.5, 1e300, 12345678901234567890])
    return rng.choice([True, False, None])


def random_string(rng: random.Random) -> str:
    return "".join(rng.choice('[]{}"\\/ aé€\n\u2028,:') for _ in range(rng.randint(0, 8)))


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_the_nesting_of_random_json(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        value = random_value(rng, rng.randint(0, 12))
        depth = depth_of(value)
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
            assert not nests_deeper_than(text, depth), text
            assert depth == 0 or nests_deeper_than(text, depth - 1), text
            assert not nests_deeper_than(text.encode(), depth)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_the_bound_is_inclusive(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    at_the_bound = opening * MAX_JSON_DEPTH + "1" + closing * MAX_JSON_DEPTH
    past_it = opening + at_the_bound + closing

    assert loads_within_depth(at_the_bound) == json.loads(at_the_bound)
    assert not nests_deeper_than(at_the_bound, MAX_JSON_DEPTH)
    assert nests_deeper_than(past_it, MAX_JSON_DEPTH)
    with pytest.raises(JsonTooDeepError):
        loads_within_depth(past_it)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('["' + "[" * 1000 + '"]', id="brackets-in-a-string"),
        pytest.param('["\\"' + "{" * 1000 + '"]', id="after-an-escaped-quote"),
        pytest.param('{"k\\\\": "' + "[" * 1000 + '"}', id="after-an-escaped-backslash"),
        pytest.param('"' + "[" * 1000, id="in-an-unterminated-string"),
    ],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    assert not nests_deeper_than(text, 2)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 1000, id="unclosed"),
        pytest.param("[" * 1000 + '"', id="unclosed-then-a-quote"),
        pytest.param('[1, "a", ' * 1000, id="unclosed-between-values"),
    ],
)
def test_malformed_json_counts_as_deep_as_a_parser_would_go(text: str) -> None:
    assert nests_deeper_than(text, MAX_JSON_DEPTH)
    with pytest.raises(JsonTooDeepError):
        loads_within_depth(text)


def test_too_deep_is_a_json_decode_error() -> None:
    # Strawberry answers its JSONDecodeError with a 400, never a 500.
    with pytest.raises(json.JSONDecodeError, match="more than 3 levels"):
        loads_within_depth("[[[[]]]]", max_depth=3)
