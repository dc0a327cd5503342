"""The services' example queries: checked when the schema is built, joined for GraphiQL."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

import services
from gateway import Service, ServiceConfigurationError, build_schema, create_app
from services import orders, payments, users
from tests.asgi import serve
from tests.tokens import app_settings

HTML = {"accept": "text/html"}


def _with_examples(**examples: str | None) -> list[Service]:
    return [
        dataclasses.replace(
            service, example_query=examples.get(service.name, service.example_query)
        )
        for service in services.SERVICES
    ]


def test_the_demo_services_example_is_the_users_one_and_it_is_valid() -> None:
    assert build_schema(services.SERVICES).example_document == users.EXAMPLE_QUERY


def test_an_example_naming_a_field_nobody_serves_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = "query Broken { users(first: 1) { nodes { nosuchfield } } }"
    schema = build_schema(_with_examples(orders=broken))
    assert schema.example_document == users.EXAMPLE_QUERY
    assert "example query of service 'orders'" in caplog.text
    assert "'nosuchfield'" in caplog.text
    assert "beside the others" not in caplog.text


def test_an_example_that_does_not_parse_fails_the_build() -> None:
    with pytest.raises(ServiceConfigurationError, match=r"Service 'payments'.*Syntax Error"):
        build_schema(_with_examples(payments="{ users(first: 1) "))


def test_users_served_alone_open_graphiql_without_the_example_that_reads_orders(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # users' example reads User.orders, which the orders service adds: users alone still
    # start, and GraphiQL shows its own welcome text.
    assert build_schema([users.service]).example_document is None
    assert "example query of service 'users'" in caplog.text


def test_several_named_examples_make_one_document_in_service_order() -> None:
    mine = "query MyOrders { users(first: 1) { nodes { orders(first: 1) { nodes { id } } } } }"
    first = "query FirstUsers { users(first: 1) { nodes { name } } }"
    schema = build_schema(_with_examples(users=first, orders=mine))
    assert schema.example_document == first + "\n\n" + mine + "\n"


def test_a_second_anonymous_example_is_left_out_asking_for_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = build_schema(_with_examples(orders="{ users(first: 1) { nodes { name } } }"))
    assert schema.example_document == users.EXAMPLE_QUERY
    assert "service 'orders'" in caplog.text
    assert "name each operation" in caplog.text


async def test_graphiql_opens_with_the_example_or_with_its_own_text_when_none(
    database_url: str,
) -> None:
    configs = []
    for example in (users.EXAMPLE_QUERY, None):
        app = create_app(app_settings(database_url=database_url), _with_examples(users=example))
        async with serve(app) as client:
            page = (await client.get("/graphql", headers=HTML)).text
        block = re.search(r'id="graphiql-config">(.*?)</script>', page, flags=re.DOTALL)
        assert block is not None
        configs.append(json.loads(block.group(1)))
    assert configs == [
        {"endpoint": "/graphql", "defaultQuery": users.EXAMPLE_QUERY},
        {"endpoint": "/graphql"},
    ]


def test_the_framework_holds_no_service_query() -> None:
    # gateway/ knows no service: the example lives with the users service.
    assert orders.service.example_query is None
    assert payments.service.example_query is None
