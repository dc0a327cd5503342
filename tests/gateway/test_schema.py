# mypy: disallow-untyped-decorators=False
# (as for services.* in pyproject: strawberry.field(name=...) is typed as Any)
"""build_schema: merging services into one schema, and every way a merge must refuse. No I/O.

Services here are small Strawberry classes defined in this module, plus the real ones from
`services`; every refusal is checked for naming the services involved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import strawberry
from strawberry.types.base import get_object_definition

import services
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.schema import GatewaySchema, build_schema
from gateway.graphql.service import Service
from services import orders, users
from services.users.types import User
from tests.gateway import extra_service

ROOT = Path(__file__).resolve().parents[2]


@strawberry.type
class Thing:
    id: int
    label: str


@strawberry.type
class ThingsQuery:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(id=1, label="first")


@strawberry.type
class GreetingQuery:
    @strawberry.field
    def hello(self) -> str:
        return "hello from greeting"


@strawberry.type
class OtherGreetingQuery:
    @strawberry.field
    def hello(self) -> str:
        return "hello from other"


@strawberry.type
class RenamedGreetingQuery:
    # A different Python name, the same GraphQL name: still a clash.
    @strawberry.field(name="hello")
    def greet(self) -> str:
        return "hello, renamed"


@strawberry.type
class CounterMutation:
    @strawberry.mutation
    def bump(self) -> int:
        return 1


@strawberry.type
class OtherCounterMutation:
    @strawberry.mutation
    def bump(self) -> int:
        return 2


@strawberry.type(name="Thing")
class OtherThing:
    id: int


@strawberry.type
class ThingExtras:
    @strawberry.field
    def shout(self, thing: strawberry.Parent[Thing]) -> str:
        return thing.label.upper()


@strawberry.type
class OtherThingExtras:
    @strawberry.field
    def shout(self, thing: strawberry.Parent[Thing]) -> str:
        return thing.label.upper() + "!"


@strawberry.type
class ThingLabelOverride:
    @strawberry.field(name="label")
    def relabel(self, thing: strawberry.Parent[Thing]) -> str:
        return "overridden"


@strawberry.type
class ThingPlainField:
    note: str = "no resolver"


@strawberry.type
class UserEmailOverride:
    @strawberry.field(name="email")
    def other_email(self, user: strawberry.Parent[User]) -> str:
        return "nobody@example.com"


class NotAStrawberryType:
    def hello(self) -> str:
        return "plain class"


def field_names(schema: GatewaySchema, type_name: str) -> set[str]:
    """The GraphQL field names of `type_name`, as introspection shows them to a client."""
    result = schema.execute_sync(
        "query ($name: String!) { __type(name: $name) { fields { name } } }",
        variable_values={"name": type_name},
    )
    assert result.errors is None
    assert result.data is not None
    assert result.data["__type"] is not None, f"{type_name} is not in the schema"
    return {field["name"] for field in result.data["__type"]["fields"]}


def things_service(**overrides: object) -> Service:
    return Service(name="things", query=ThingsQuery, types=[Thing], **overrides)  # type: ignore[arg-type]


def test_build_schema_merges_root_fields_types_and_extensions_of_all_services() -> None:
    schema = build_schema(
        [
            things_service(mutation=CounterMutation),
            Service(name="greetings", query=GreetingQuery, extends={"Thing": ThingExtras}),
        ]
    )

    assert field_names(schema, "Query") == {"thing", "hello"}
    assert field_names(schema, "Mutation") == {"bump"}
    assert field_names(schema, "Thing") == {"id", "label", "shout"}
    result = schema.execute_sync("{ hello thing { label shout } }")
    assert result.errors is None
    assert result.data == {
        "hello": "hello from greeting",
        "thing": {"label": "first", "shout": "FIRST"},
    }


def test_schema_without_mutations_has_no_mutation_type() -> None:
    schema = build_schema([things_service()])

    assert schema.get_type_by_name("Mutation") is None


def test_two_services_defining_the_same_query_field_fail_naming_both() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema(
            [
                Service(name="greetings", query=GreetingQuery),
                Service(name="others", query=OtherGreetingQuery),
            ]
        )

    message = str(raised.value)
    assert "Query field 'hello'" in message
    assert "'greetings'" in message
    assert "'others'" in message


def test_query_fields_clash_by_graphql_name_even_with_different_python_names() -> None:
    with pytest.raises(
        ServiceConfigurationError, match=r"Query field 'hello' .*'greetings'.*'renamed'"
    ):
        build_schema(
            [
                Service(name="greetings", query=GreetingQuery),
                Service(name="renamed", query=RenamedGreetingQuery),
            ]
        )


def test_two_services_defining_the_same_mutation_field_fail_naming_both() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema(
            [
                things_service(mutation=CounterMutation),
                Service(name="counters", mutation=OtherCounterMutation),
            ]
        )

    message = str(raised.value)
    assert "Mutation field 'bump'" in message
    assert "'things'" in message
    assert "'counters'" in message


def test_two_services_defining_the_same_type_name_fail_naming_both() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema(
            [things_service(), Service(name="copycat", query=GreetingQuery, types=[OtherThing])]
        )

    message = str(raised.value)
    assert "Type 'Thing'" in message
    assert "'things'" in message
    assert "'copycat'" in message


def test_extending_a_type_no_service_defines_fails_naming_the_type_and_the_known_ones() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema([things_service(extends={"Gadget": ThingExtras})])

    message = str(raised.value)
    assert "'things' adds fields to type 'Gadget'" in message
    assert "no registered service defines" in message
    assert "known types: Thing" in message


def test_extension_field_clashing_with_an_existing_field_fails_naming_both_services() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema(
            [
                things_service(),
                Service(name="labels", query=GreetingQuery, extends={"Thing": ThingLabelOverride}),
            ]
        )

    message = str(raised.value)
    assert "Thing.label" in message
    assert "'things'" in message
    assert "'labels'" in message


def test_two_services_adding_the_same_field_to_a_type_fail_naming_both() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema(
            [
                things_service(extends={"Thing": ThingExtras}),
                Service(name="shouters", query=GreetingQuery, extends={"Thing": OtherThingExtras}),
            ]
        )

    message = str(raised.value)
    assert "Thing.shout" in message
    assert "'things'" in message
    assert "'shouters'" in message


def test_extension_field_without_a_resolver_is_refused() -> None:
    with pytest.raises(ServiceConfigurationError, match=r"adds Thing\.note without a resolver"):
        build_schema([things_service(extends={"Thing": ThingPlainField})])


def test_two_services_with_the_same_name_are_refused() -> None:
    with pytest.raises(ServiceConfigurationError, match="Two services are named 'things'"):
        build_schema([things_service(), Service(name="things", query=GreetingQuery)])


def test_schema_without_any_query_is_refused() -> None:
    with pytest.raises(ServiceConfigurationError, match="No service defines a Query type"):
        build_schema([Service(name="counters", mutation=CounterMutation)])


def test_non_strawberry_class_as_query_is_refused_with_the_fix() -> None:
    with pytest.raises(ServiceConfigurationError) as raised:
        build_schema([Service(name="plain", query=NotAStrawberryType)])

    message = str(raised.value)
    assert "'plain'" in message
    assert "NotAStrawberryType is not a Strawberry type" in message
    assert "@strawberry.type" in message


def test_building_without_the_orders_service_leaves_user_without_orders() -> None:
    with_orders = build_schema([users.service, orders.service])
    without_orders = build_schema([users.service])

    assert "orders" in field_names(with_orders, "User")
    assert "orders" not in field_names(without_orders, "User")
    # Strawberry's own lookups (directives, codegen) still find the added field.
    assert with_orders.get_field_for_type("orders", "User") is not None
    assert without_orders.get_field_for_type("orders", "User") is None
    user_definition = get_object_definition(User)
    assert user_definition is not None
    assert "orders" not in {field.name for field in user_definition.fields}


async def test_schema_without_orders_rejects_a_query_for_user_orders() -> None:
    build_schema(services.SERVICES)
    schema = build_schema([users.service])

    result = await schema.execute("{ user(id: 1) { orders { nodes { id } } } }")

    assert result.errors is not None
    assert result.errors[0].message == "Cannot query field 'orders' on type 'User'."
    assert result.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


def test_failed_build_restores_the_types_it_had_already_extended() -> None:
    # orders adds User.orders first; the clash on User.email is found afterwards.
    clashing = Service(name="clashing", query=GreetingQuery, extends={"User": UserEmailOverride})
    with pytest.raises(ServiceConfigurationError, match=r"User\.email.*'users'.*'clashing'"):
        build_schema([users.service, orders.service, clashing])

    assert "orders" not in field_names(build_schema([users.service]), "User")


def test_building_the_same_services_twice_gives_the_same_schema() -> None:
    first = build_schema(services.SERVICES).as_str()
    second = build_schema(services.SERVICES).as_str()

    assert first == second


def test_extra_service_adds_its_fields_without_changing_the_others() -> None:
    base = build_schema(services.SERVICES)
    extended = build_schema([*services.SERVICES, extra_service.service])

    assert field_names(extended, "User") == field_names(base, "User") | {"reviews"}
    assert field_names(extended, "Query") == field_names(base, "Query") | {
        "review",
        "reviewSearch",
        "reviewDigest",
    }
    assert field_names(extended, "Mutation") == field_names(base, "Mutation") | {"addReview"}


def test_committed_schema_graphql_matches_the_live_schema() -> None:
    live = build_schema(services.SERVICES).as_str() + "\n"
    committed = (ROOT / "schema.graphql").read_text()

    assert live == committed, (
        "schema.graphql is out of date with the services' code; "
        "run `gateway export-schema -o schema.graphql` and commit the result."
    )
