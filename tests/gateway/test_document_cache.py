"""Each query text is parsed once; a failed parse still reaches every extension."""

from __future__ import annotations

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import DocumentNode, parse

import services
from gateway.compat import broken_contacts
from gateway.execution.byte_cache import DOCUMENT_BYTES_PER_TOKEN, estimated_bytes, token_count
from gateway.execution.document_cache import ParsedDocuments
from gateway.graphql.schema import build_schema


async def test_a_repeated_query_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    broken_contacts()  # the startup check's probe query, parsed once per process, first

    def counting_parse(source: str, **options: object) -> DocumentNode:
        parsed.append(source)
        return parse(source, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(strawberry_schema, "parse", counting_parse)
    schema = build_schema(services.SERVICES)
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None
    assert parsed == ["{ __typename }"]


async def test_a_syntax_error_is_not_cached_and_keeps_its_code() -> None:
    schema = build_schema(services.SERVICES)
    for _ in range(2):
        result = await schema.execute("{ users {")
        assert result.errors is not None
        assert result.errors[0].extensions == {"code": "GRAPHQL_PARSE_FAILED"}


def test_the_least_recently_used_document_leaves_first() -> None:
    one = estimated_bytes(token_count(parse("{ a }").loc, fallback=0), DOCUMENT_BYTES_PER_TOKEN)
    documents = ParsedDocuments(max_bytes=2 * one)
    for text in ("{ a }", "{ b }"):
        documents.put(text, parse(text))
    assert documents.get("{ a }") is not None  # now the most recently used
    documents.put("{ c }", parse("{ c }"))
    assert documents.get("{ b }") is None
    assert documents.get("{ a }") is not None
    assert documents.get("{ c }") is not None
