"""Suggestions in production: every graphql-core message that hints at the schema ("Did you
mean ...?") loses its hint, wherever it sits, and keeps its code.

The schema here is a small test-only catalog built by the real build_schema: it has what the
real services lack for some messages (an interface, an enum argument); no resolver runs, so no
database is needed. Each case is first checked to carry the hint in development, so that a
case that no longer provokes one fails instead of passing unseen.

Codes come from what an error is, not its message: a value quoted in a message cannot change
its code, the token limit is told from a syntax error by the one contact in gateway.compat
that reads graphql-core's message, and that contact, broken on purpose, is logged, counted
and answered around.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLSyntaxError, parse
from graphql.pyutils import did_you_mean

from gateway import compat
from gateway.graphql.error_codes import without_suggestions
from gateway.graphql.schema import build_schema
from gateway.graphql.service import Service
from gateway.limits.cost import max_items
from gateway.limits.rules import Limits
from tests.asgi import serve
from tests.gateway.serving import app_for, post, sample, scrape


@strawberry.enum
class Shelf(Enum):
    FICTION = "FICTION"
    POETRY = "POETRY"


@strawberry.interface
class Item:
    title: str


@strawberry.type
class Book(Item):
    pages: int


@strawberry.input
class ItemFilter:
    shelf: Shelf
    max_pages: int | None = None


@strawberry.type
class CatalogQuery:
    @strawberry.field(metadata=max_items(10))  # every list field declares its bound
    def items(self, filter: ItemFilter | None = None, shelf: Shelf | None = None) -> list[Item]:
        return []


CATALOG = Service(name="catalog", query=CatalogQuery, types=[Book])

BY_VARIABLE = "query ($s: Shelf, $f: ItemFilter) { items(shelf: $s, filter: $f) { title } }"

# (query, variables, the name graphql-core suggests), one per message template with a hint.
HINTED = [
    pytest.param("{ itms { title } }", None, "items", id="field"),
    pytest.param("{ items { pages } }", None, "Book", id="field-of-an-interface"),
    pytest.param("{ items(shelff: FICTION) { title } }", None, "shelf", id="argument"),
    pytest.param("{ items @include(iff: true) { title } }", None, "if", id="directive-argument"),
    pytest.param("query ($s: Shelff) { items(shelf: $s) { title } }", None, "Shelf", id="type"),
    pytest.param(
        "{ items(filter: {shelf: POETRY, maxPage: 3}) { title } }",
        None,
        "maxPages",
        id="input-field-literal",
    ),
    pytest.param("{ items(shelf: FICTON) { title } }", None, "FICTION", id="enum-literal"),
    pytest.param(
        '{ items(shelf: "FICTION") { title } }', None, "FICTION", id="enum-as-string-literal"
    ),
    pytest.param(BY_VARIABLE, {"s": "FICTON"}, "FICTION", id="enum-variable"),
    pytest.param(
        BY_VARIABLE,
        {"f": {"shelf": "POETRY", "maxPage": 3}},
        "maxPages",
        id="input-field-variable",
    ),
    pytest.param(BY_VARIABLE, {"f": {"shelf": "POETRI"}}, "POETRY", id="enum-in-input-variable"),
]


async def errors(*, production: bool, query: str, variables: Any) -> list[dict[str, Any]]:
    schema = build_schema([CATALOG], production=production)
    result = await schema.execute(query, variable_values=variables)
    assert result.errors, result
    return [error.formatted for error in result.errors]


@pytest.mark.parametrize(("query", "variables", "suggested"), HINTED)
async def test_production_cuts_every_hint_and_keeps_the_code(
    query: str, variables: Any, suggested: str
) -> None:
    development = await errors(production=False, query=query, variables=variables)
    production = await errors(production=True, query=query, variables=variables)

    hinted = [e["message"] for e in development if "Did you mean" in e["message"]]
    assert any(f"'{suggested}'" in message for message in hinted), development
    assert [e["extensions"]["code"] for e in production] == [
        e["extensions"]["code"] for e in development
    ]
    for error in production:
        assert "Did you mean" not in error["message"]
        assert f"'{suggested}'" not in error["message"]
    # What the client needs to fix its request stays: the message up to the hint.
    for hinted_error, cut in zip(development, production, strict=True):
        assert cut["message"].startswith(hinted_error["message"].split(" Did you mean")[0])


@pytest.mark.parametrize(
    "names", [["a"], ["a", "b"], ["a", "b", "c"], ["A_1", "_b", "cDe", "f", "g", "h", "i"]]
)
@pytest.mark.parametrize("phrase", [None, "the enum value", "to use an inline fragment on"])
def test_every_form_of_graphql_cores_hint_is_cut(names: list[str], phrase: str | None) -> None:
    hint = did_you_mean(names, phrase)
    assert hint.startswith(" Did you mean ")

    assert without_suggestions(f"Unknown thing 'x'.{hint}") == "Unknown thing 'x'."
    assert without_suggestions(f"Bad field 'x'.{hint} Found: {{x: 1}}.") == (
        "Bad field 'x'. Found: {x: 1}."
    )


def test_a_message_without_a_hint_is_kept_whole() -> None:
    message = "Expected value of type 'Int!', found \"Did you mean 'x'\"; Int cannot represent it."
    assert without_suggestions(message) == message


# -- Codes from what an error is, never from its message text ---------------------------------

SHORT = Limits(max_tokens=8)  # "{ items { title } }" is 6 tokens


async def codes(query: str, variables: Any = None, *, limits: Limits | None = None) -> list[str]:
    schema = build_schema([CATALOG], limits=limits)
    result = await schema.execute(query, variable_values=variables)
    return [error.formatted["extensions"]["code"] for error in result.errors or ()]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Syntax Error", id="reads-like-a-syntax-error"),
        pytest.param("tokens. Parsing aborted.", id="reads-like-the-token-limit"),
    ],
)
async def test_a_value_that_reads_like_another_error_is_still_a_validation_failure(
    value: str,
) -> None:
    # graphql-core quotes the client's value in its message; the code must not follow it.
    query = f'{{ items(shelf: "{value}") {{ title }} }}'
    assert await codes(query) == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ items { title title title title } }", id="tokens"),
        pytest.param("# a\n# b\n# c\n{ items { title } }", id="comments-count-as-tokens"),
        pytest.param(
            "{ items { title title title title title title", id="a-syntax-error-past-the-limit"
        ),
    ],
)
async def test_a_document_past_max_tokens_is_too_many_tokens(query: str) -> None:
    assert await codes(query, limits=SHORT) == ["TOO_MANY_TOKENS"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("{ items { title }", id="unclosed"),
        pytest.param("{ items { title } } }", id="extra-brace"),
        pytest.param('{ items(shelf: "FICTION) { title } }', id="unterminated-string"),
    ],
)
async def test_a_syntax_error_within_max_tokens_is_a_parse_failure(query: str) -> None:
    assert await codes(query, limits=SHORT) == ["GRAPHQL_PARSE_FAILED"]


async def test_a_document_of_exactly_max_tokens_runs() -> None:
    assert await codes("{ items { title } }", limits=Limits(max_tokens=6)) == []


async def test_every_validation_error_is_coded_as_validation_returns_it() -> None:
    schema = build_schema([CATALOG])
    result = await schema.execute("{ itms { title } items { pages } }")

    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [{"code": "GRAPHQL_VALIDATION_FAILED"}] * 2


# -- The token-limit contact (gateway.compat) -------------------------------------------------


@pytest.fixture
def contacts_rechecked() -> Iterator[None]:
    """The contacts checked afresh in the test, and again after it (the checks are cached)."""
    compat.broken_contacts.cache_clear()
    compat.token_limit_problems.cache_clear()
    yield
    compat.broken_contacts.cache_clear()
    compat.token_limit_problems.cache_clear()


def _reworded(source: str, max_tokens: int | None = None, **options: Any) -> Any:
    """graphql-core's parse, as if a later version worded its token-limit refusal anew."""
    try:
        return parse(source, max_tokens=max_tokens, **options)
    except GraphQLSyntaxError as error:
        if max_tokens is None or error.positions is None:
            raise
        raise GraphQLSyntaxError(error.source, error.positions[0], "Too long.") from None


def test_the_token_limit_contact_fits_the_installed_graphql_core(
    contacts_rechecked: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.compat"):
        assert compat.check_contacts() == ()

    assert compat.contact_fits(compat.TOKEN_LIMIT_OPTION)
    assert compat.contact_fits(compat.TOKEN_LIMIT_MESSAGE)
    assert [r for r in caplog.records if r.name == "gateway.compat"] == []


async def test_a_reworded_token_limit_is_logged_and_refused_as_a_parse_failure(
    contacts_rechecked: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compat, "parse", _reworded)
    with caplog.at_level(logging.WARNING, logger="gateway.compat"):
        broken = compat.check_contacts()

    assert [b.contact for b in broken] == [compat.TOKEN_LIMIT_MESSAGE]
    (record,) = [r for r in caplog.records if r.name == "gateway.compat"]
    assert record.levelno == logging.WARNING
    assert compat.TOKEN_LIMIT_MESSAGE in record.getMessage()
    assert "GRAPHQL_PARSE_FAILED" in record.getMessage()  # what the gateway does instead
    # Still refused, with the code of any syntax error; everything else answers as before.
    assert await codes("{ items { title title title title } }", limits=SHORT) == [
        "GRAPHQL_PARSE_FAILED"
    ]
    assert await codes("{ items { title } }", limits=SHORT) == []
    assert await codes("{ itms { title } }", limits=SHORT) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_parse_without_max_tokens_is_logged_and_documents_are_bounded_by_length(
    contacts_rechecked: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def without_max_tokens(source: str, *, no_location: bool = False) -> Any:
        """graphql-core's parse, as if a later version dropped the deprecated option."""
        return parse(source, no_location=no_location)

    monkeypatch.setattr(compat, "parse", without_max_tokens)
    with caplog.at_level(logging.WARNING, logger="gateway.compat"):
        broken = compat.check_contacts()

    assert compat.TOKEN_LIMIT_OPTION in [b.contact for b in broken]
    logged = [r.getMessage() for r in caplog.records if r.name == "gateway.compat"]
    assert any(compat.TOKEN_LIMIT_OPTION in m and "max_query_length" in m for m in logged)
    # The option is no longer asked for, so queries answer instead of failing to parse; the
    # length limit still holds.
    assert await codes("{ items { title title title title } }", limits=SHORT) == []
    too_long = Limits(max_tokens=8, max_query_length=20)
    assert await codes("{ items { title title title title } }", limits=too_long) == [
        "QUERY_TOO_LONG"
    ]


async def test_the_app_reports_a_reworded_token_limit_and_keeps_answering(
    database_url: str,
    contacts_rechecked: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compat, "parse", _reworded)
    with caplog.at_level(logging.WARNING, logger="gateway.compat"):
        app = app_for(database_url)
    [warning] = [r for r in caplog.records if r.name == "gateway.compat"]
    assert compat.TOKEN_LIMIT_MESSAGE in warning.getMessage()

    async with serve(app) as client:
        long = await post(client, query="{ users(first: 1) { nodes { " + "id " * 1500 + "} } }")
        short = await post(client, query="{ users(first: 1) { nodes { id } } }")
        text = await scrape(client)

    assert [e["extensions"]["code"] for e in long["errors"]] == ["GRAPHQL_PARSE_FAILED"]
    assert short == {"data": {"users": {"nodes": []}}}
    contact = compat.TOKEN_LIMIT_MESSAGE
    assert sample(text, "gateway_library_contact_broken", contact=contact) == 1
    assert sample(text, "gateway_library_contact_broken", contact=compat.TOKEN_LIMIT_OPTION) == 0
