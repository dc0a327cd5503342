"""What RequestGuard's nesting check costs, next to the json.loads it runs before.

    .venv/bin/python -m benchmarks.json_depth [--repeat 200]

For bodies from a normal request up to the 100 KB body limit made of brackets, prints the
best time per call of `nests_deeper_than(body, 64)` and of `json.loads(body)`, and their
ratio (check / parse), as a Markdown table. A body too deep for json.loads has no parse time.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable, Sequence

from gateway.http.json_depth import MAX_JSON_DEPTH, nests_deeper_than

QUERY = "query User($id: Int!) { user(id: $id) { id email orders(first: 5) { nodes { id } } } }"


def bodies() -> dict[str, bytes]:
    """Request bodies by what they are, each at most the default 100,000-byte limit."""
    nests = b"[" * 60 + b"]" * 60
    return {
        "a normal request": json.dumps(
            {"query": QUERY, "variables": {"id": 1}, "operationName": "User"}
        ).encode(),
        "a 90 KB query": json.dumps(
            {"query": "{ users(first: 1) { nodes { " + "email " * 15_000 + "} } }"}
        ).encode(),
        "5,000 variables in a list": json.dumps(
            {"query": QUERY, "variables": {"ids": list(range(5_000))}}
        ).encode(),
        "100 KB of [] pairs": b"[" + b"[]," * 33_000 + b"[]]",
        "100 KB of 60-deep nests": b"[" + b",".join([nests] * 820) + b"]",
        "100 KB of escaped quotes": b'["' + b'\\"' * 49_000 + b'"]',
        "1,000 nested arrays": b"[" * 1_000 + b"]" * 1_000,
    }


def best_time(call: Callable[[], object], repeat: int) -> float | None:
    """The best seconds per call over `repeat` calls, None if `call` raises."""
    try:
        call()
    except (ValueError, RecursionError):
        return None
    return min(timeit.repeat(call, number=1, repeat=repeat))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.json_depth", description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    lines = [
        f"| body | bytes | deeper than {MAX_JSON_DEPTH} | check µs | json.loads µs | ratio |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, body in bodies().items():
        check = best_time(lambda body=body: nests_deeper_than(body, MAX_JSON_DEPTH), args.repeat)
        parse = best_time(lambda body=body: json.loads(body), args.repeat)
        assert check is not None
        ratio = f"{check / parse:.2f}" if parse else "-"
        parsed = f"{parse * 1e6:,.1f}" if parse else "fails"
        deep = "yes" if nests_deeper_than(body, MAX_JSON_DEPTH) else "no"
        lines.append(
            f"| {name} | {len(body):,} | {deep} | {check * 1e6:,.1f} | {parsed} | {ratio} |"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
