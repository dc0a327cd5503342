"""Time the operation limits (depth, aliases, directives, cost) against validation.

    .venv/bin/python -m benchmarks.cost_estimate --rounds 200

For each document (the README's query, the example frontend's, GraphiQL's introspection, and
refused ones: the README's costly example, issue 13's depth-10 query, a fragment bomb,
introspection three times over) it prints the cost or the refusal, the median time of the
limit check (gateway/limits/rules.py, on the schema's types) and of graphql-core's validation of
the same parsed document, and their ratio. No database: both run before any SQL. Absolute
numbers depend on the machine; the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from graphql import DocumentNode, GraphQLError, get_introspection_query, parse, validate

import services
from gateway.graphql.pagination import MAX_PAGE_SIZE
from gateway.graphql.schema import build_schema
from gateway.limits.cost import SchemaCosts
from gateway.limits.rules import Limits, check_operation

_INTROSPECTION = get_introspection_query(descriptions=True, input_value_deprecation=True)
_FRAGMENTS = _INTROSPECTION[_INTROSPECTION.index("fragment FullType") :]

DOCUMENTS = {
    "README query": """{ users(first: 2) { nodes { name orders(first: 2) { nodes { total status
        payments { nodes { amount currency } } } } } pageInfo { hasNextPage } } }""",
    "frontend UsersWithOrders": """query ($first: Int) { users(first: $first) { nodes { id name
        email orders(first: 5) { nodes { id status total items { sku quantity } } } } } }""",
    "GraphiQL introspection": _INTROSPECTION,
    "README costly example (refused)": """{ users(first: 50) { nodes { orders { nodes {
        payments { nodes { amount } } } } } } }""",
    "issue 13 depth-10 query (refused)": """
        query Deep($n: Int = 100) { users(first: $n) { ...Users } }
        fragment Users on UserConnection { nodes { email orders { ...Orders } } }
        fragment Orders on OrderConnection { nodes { total payments { ...Payments } } }
        fragment Payments on PaymentConnection { nodes { amount order {
          items { sku quantity unitPrice } user { orders { ...Ids } } } } }
        fragment Ids on OrderConnection { nodes { id } }""",
    "fragment bomb (refused)": " ".join(
        f"fragment {a} on User {{ email ...{b} ...{b} }}"
        for a, b in zip("ABCDEFGHIJKL", "BCDEFGHIJKLM", strict=True)
    )
    + " fragment M on User { email } { users(first: 1) { nodes { ...A } } }",
    "introspection x3 (refused)": "{ "
    + " ".join(f"{a}: __schema {{ types {{ ...FullType }} }}" for a in "abc")
    + " } "
    + _FRAGMENTS,
}


def median_seconds(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# The variables each document is sent with (the example frontend asks for 5 users).
VARIABLES: dict[str, dict[str, object]] = {"frontend UsersWithOrders": {"first": 5}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    strawberry_schema = build_schema(services.SERVICES)
    schema = strawberry_schema._schema
    costs = SchemaCosts.of_schema(schema, max_page_size=MAX_PAGE_SIZE)
    limits = Limits()

    def check(document: DocumentNode, variables: dict[str, object]) -> str:
        try:
            cost = check_operation(document, limits=limits, costs=costs, variables=variables)
        except GraphQLError as refused:
            return str((refused.extensions or {}).get("code"))
        return f"{cost:,}"

    print("| document | cost check | limits (ms) | validation (ms) | limits / validation |")
    print("|---|---|---:|---:|---:|")
    for name, text in DOCUMENTS.items():
        document = parse(text)
        variables = VARIABLES.get(name, {})
        outcome = check(document, variables)
        limit_time = median_seconds(lambda d=document, v=variables: check(d, v), args.rounds)
        validation_time = median_seconds(lambda d=document: validate(schema, d), args.rounds)
        print(
            f"| {name} | {outcome} | {limit_time * 1000:.3f} | {validation_time * 1000:.3f} "
            f"| {limit_time / validation_time:.2f} |"
        )


if __name__ == "__main__":
    main()
