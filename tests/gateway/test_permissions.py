"""Permissions on fields (gateway/graphql/permissions.py), on a small test-only schema built
by the real build_schema: a denied field is null with FORBIDDEN at its path and its siblings
are served, on the planned executor and on graphql-core's path (`__typename` at the root
keeps the plan; `__schema` sends the operation to graphql-core); the permissions show in the
SDL as directives. No resolver reads a database here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import strawberry

from gateway.execution.executor import FALLBACKS
from gateway.graphql.batch_field import batch_field
from gateway.graphql.context import Context
from gateway.graphql.permissions import AdminOnly, OwnerOrAdmin, SignedIn, guarded
from gateway.graphql.schema import build_schema
from gateway.graphql.service import Service
from gateway.identity.viewer import ANONYMOUS, Viewer
from gateway.limits.cost import max_items


class OwnAccount(OwnerOrAdmin):
    def owner_of(self, source: Any, arguments: Mapping[str, Any]) -> object:
        return source.id


BATCH_CALLS: list[list[int]] = []  # the parents each call of Account.secrets got


@strawberry.type
class Account:
    id: int
    name: str
    email: str | None = strawberry.field(extensions=[guarded(OwnAccount)])

    @batch_field(permission_classes=[OwnAccount])
    async def secrets(parents: list[Account]) -> list[str | None]:
        BATCH_CALLS.append([parent.id for parent in parents])
        return [f"secret of {parent.name}" for parent in parents]


ACCOUNTS = [
    Account(id=1, name="Ada", email="ada@example.com"),
    Account(id=2, name="Bob", email="bob@example.com"),
]


@strawberry.type
class AccountsQuery:
    @strawberry.field(extensions=[guarded(SignedIn)])
    def account(self, id: int) -> Account | None:
        return next((a for a in ACCOUNTS if a.id == id), None)

    @strawberry.field(extensions=[guarded(AdminOnly)], metadata=max_items(10))
    def accounts(self) -> list[Account] | None:
        return ACCOUNTS

    @strawberry.field(metadata=max_items(10))
    def everyone(self) -> list[Account]:
        return ACCOUNTS

    @strawberry.field
    def greeting(self) -> str:
        return "hello"


SCHEMA = build_schema([Service(name="accounts", query=AccountsQuery, types=[Account])])
ADA = Viewer(subject="1")
ADMIN = Viewer(subject="9", roles=frozenset({"admin"}))


async def run(query: str, viewer: Viewer) -> tuple[Any, list[tuple[str, list[Any]]]]:
    result = await SCHEMA.execute(query, context_value=Context({}, viewer=viewer))
    errors = [(e.formatted["extensions"]["code"], e.formatted["path"]) for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize(
    "fallback", ["", "__schema { queryType { name } }"], ids=["planned", "graphql-core"]
)
async def test_another_users_email_is_forbidden_and_the_siblings_are_served(fallback: str) -> None:
    fallbacks = sum(FALLBACKS.values())
    data, errors = await run(
        f"{{ {fallback} mine: account(id: 1) {{ name email }} "
        "theirs: account(id: 2) { name email } }",
        ADA,
    )

    assert sum(FALLBACKS.values()) - fallbacks == (1 if fallback else 0)  # the path it took

    assert data["mine"] == {"name": "Ada", "email": "ada@example.com"}
    assert data["theirs"] == {"name": "Bob", "email": None}
    assert errors == [("FORBIDDEN", ["theirs", "email"])]


@pytest.mark.parametrize(
    ("viewer", "expected_codes"),
    [(ANONYMOUS, ["FORBIDDEN", "FORBIDDEN"]), (ADA, ["FORBIDDEN"]), (ADMIN, [])],
    ids=["anonymous", "a-user", "an-admin"],
)
async def test_root_fields_need_a_viewer_or_an_admin(
    viewer: Viewer, expected_codes: list[str]
) -> None:
    data, errors = await run("{ greeting account(id: 2) { name } accounts { email } }", viewer)

    assert data["greeting"] == "hello"  # an unguarded sibling is always served
    assert [code for code, _ in errors] == expected_codes
    if viewer is ADMIN:
        assert data["accounts"] == [{"email": "ada@example.com"}, {"email": "bob@example.com"}]
    else:
        assert data["accounts"] is None


def test_the_permissions_show_in_the_sdl_as_directives() -> None:
    sdl = SCHEMA.as_str()

    assert "directive @signedIn on FIELD_DEFINITION" in sdl
    assert "account(id: Int!): Account @signedIn" in sdl
    assert "accounts: [Account!] @adminOnly" in sdl
    assert "email: String @ownAccount" in sdl
    assert "secrets: String @ownAccount" in sdl  # a batch field's permission too
    assert "greeting: String!\n" in sdl  # an unguarded field has none


@pytest.mark.parametrize(
    "fallback", ["", "__schema { queryType { name } }"], ids=["planned", "graphql-core"]
)
async def test_a_batch_field_checks_each_parent_and_serves_the_allowed_in_one_call(
    fallback: str,
) -> None:
    BATCH_CALLS.clear()
    data, errors = await run(f"{{ {fallback} everyone {{ id secrets }} }}", ADA)

    assert data["everyone"] == [{"id": 1, "secrets": "secret of Ada"}, {"id": 2, "secrets": None}]
    assert errors == [("FORBIDDEN", ["everyone", 1, "secrets"])]
    assert BATCH_CALLS == [[1]]  # Bob's row never reached the function


async def test_a_batch_field_refused_for_every_parent_is_never_called() -> None:
    BATCH_CALLS.clear()
    data, errors = await run("{ everyone { secrets } }", ANONYMOUS)

    assert data["everyone"] == [{"secrets": None}, {"secrets": None}]
    assert [code for code, _ in errors] == ["FORBIDDEN", "FORBIDDEN"]
    assert BATCH_CALLS == []


async def test_an_admin_gets_every_parent_of_a_batch_field_in_one_call() -> None:
    BATCH_CALLS.clear()
    data, errors = await run("{ everyone { secrets } }", ADMIN)

    assert errors == []
    assert data["everyone"] == [{"secrets": "secret of Ada"}, {"secrets": "secret of Bob"}]
    assert BATCH_CALLS == [[1, 2]]
