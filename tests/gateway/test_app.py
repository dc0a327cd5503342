"""create_app over HTTP: the lifespan's one pool and migrations, /graphql, and error masking.

Every test runs the real app (`httpx.ASGITransport`) inside its real lifespan on a fresh
database, and checks the database itself (pg_stat_activity, information_schema,
each schema's schema_migrations) through a connection outside the app's pool.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

import services
from gateway.app import create_app
from gateway.db import AsyncDatabaseManager, MigrationError
from gateway.execution.gc_tuning import YOUNG_THRESHOLD
from gateway.graphql.errors import ServiceConfigurationError
from gateway.settings import PROJECT_ROOT, Settings
from tests.asgi import PREFLIGHTED, serve
from tests.gateway import extra_service
from tests.gateway.extra_service.resolvers import DIGEST_FAILURE
from tests.tokens import TEST_AUTH, app_settings
from tests.tracking_rows import tracked, tracking_rows

REPO_MIGRATIONS = PROJECT_ROOT / "migrations"
REAL_SERVICES = ("users", "orders", "payments")  # each in a schema of its own
TENANT_SCOPED = ("projects",)  # in each tenant's schema, none at startup

GATEWAY_BACKENDS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND application_name = 'gateway'"
)
OTHER_CLIENTS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
    "AND application_name NOT IN ('gateway', 'gateway-events')"
)
EVENT_LISTENERS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND application_name = 'gateway-events'"
)

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(database_url: str) -> SettingsFactory:
    """Settings for this test's database; keyword arguments override the defaults."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "migrations_dir": REPO_MIGRATIONS,
            "min_connections": 2,
            "max_connections": 4,
            "auth": TEST_AUTH,
        }
        return app_settings(**(values | overrides))

    return make


def migrations_dir_with(tmp_path: Path, **extra_folders: Path) -> Path:
    """A migrations folder with the real services' folders plus `extra_folders` by name."""
    root = tmp_path / "migrations"
    root.mkdir()
    for name in (*REAL_SERVICES, *TENANT_SCOPED):
        (root / name).symlink_to(REPO_MIGRATIONS / name, target_is_directory=True)
    for name, folder in extra_folders.items():
        (root / name).symlink_to(folder, target_is_directory=True)
    return root


@pytest.fixture
def reviews_migrations(tmp_path: Path) -> Path:
    """The real services' migrations next to the test-only reviews service's."""
    return migrations_dir_with(tmp_path, reviews=extra_service.MIGRATIONS_DIR / "reviews")


async def graphql(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


CREATE_USER = """
mutation ($email: String!, $name: String!) {
  createUser(input: {email: $email, name: $name}) { id email name }
}
"""
ADD_REVIEW = """
mutation ($userId: Int!, $sku: String!, $rating: Int!) {
  addReview(input: {userId: $userId, sku: $sku, rating: $rating, body: "Solid."}) { id sku }
}
"""


async def create_user(client: httpx.AsyncClient, email: str, name: str = "Ada") -> int:
    body = await graphql(client, CREATE_USER, {"email": email, "name": name})
    assert "errors" not in body, body
    user_id: int = body["data"]["createUser"]["id"]
    return user_id


# --- lifespan: one pool, migrations, clean shutdown ---------------------------------------


async def test_startup_opens_one_pool_whose_connections_are_the_only_ones(
    make_settings: SettingsFactory, raw_connection: asyncpg.Connection
) -> None:
    app = create_app(make_settings(min_connections=3, max_connections=3), services.SERVICES)

    async with serve(app):
        assert await raw_connection.fetchval(GATEWAY_BACKENDS) == 3
        assert app.state.pool.get_size() == 3
        # Besides the pool, the subscriptions' one listening connection.
        assert await raw_connection.fetchval(EVENT_LISTENERS) == 1
        assert await raw_connection.fetchval(OTHER_CLIENTS) == 0

    assert await raw_connection.fetchval(GATEWAY_BACKENDS) == 0


@pytest.mark.parametrize("gc_tuning", [True, False])
async def test_serving_freezes_startups_objects_out_of_collections_until_shutdown(
    make_settings: SettingsFactory, gc_tuning: bool
) -> None:
    app = create_app(make_settings(gc_tuning=gc_tuning), services.SERVICES)
    frozen_before = gc.get_freeze_count()
    thresholds_before = gc.get_threshold()

    async with serve(app) as client:
        frozen_while_serving = gc.get_freeze_count()
        thresholds_while_serving = gc.get_threshold()
        response = await client.post("/graphql", json={"query": "{ users { nodes { id } } }"})
        assert response.json() == {"data": {"users": {"nodes": []}}}

    if gc_tuning:
        # The schema, the pool and every module loaded so far: far more than a handful.
        assert frozen_while_serving > frozen_before + 10_000
        assert thresholds_while_serving == (YOUNG_THRESHOLD, *thresholds_before[1:])
    else:
        assert frozen_while_serving == frozen_before
        assert thresholds_while_serving == thresholds_before
    assert gc.get_freeze_count() == (0 if gc_tuning else frozen_before)
    assert gc.get_threshold() == thresholds_before


def test_gc_tuning_is_on_unless_the_environment_turns_it_off() -> None:
    assert Settings.from_env({}).gc_tuning
    assert Settings.from_env({"GATEWAY_GC_TUNING": "1"}).gc_tuning
    assert not Settings.from_env({"GATEWAY_GC_TUNING": "0"}).gc_tuning


async def test_startup_migrates_every_service_into_its_own_schema(
    make_settings: SettingsFactory, raw_connection: asyncpg.Connection
) -> None:
    app = create_app(make_settings(), services.SERVICES)

    async with serve(app):
        schemas = await raw_connection.fetch(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY($1)",
            list(REAL_SERVICES),
        )
        tables = await raw_connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1) AND table_name <> 'schema_migrations'",
            list(REAL_SERVICES),
        )
        migrations = [
            (row["module_name"], row["filename"], row["schema"])
            for row in await tracking_rows(raw_connection)
        ]

    assert {row["schema_name"] for row in schemas} == set(REAL_SERVICES)
    assert {(row["table_schema"], row["table_name"]) for row in tables} == {
        ("users", "users"),
        ("orders", "orders"),
        ("orders", "line_items"),
        ("payments", "payments"),
    }
    assert set(migrations) == {
        ("users", "001_create_users.sql", "users"),
        ("orders", "001_create_orders.sql", "orders"),
        ("orders", "002_add_currency_and_idempotency_key.sql", "orders"),
        ("payments", "001_create_payments.sql", "payments"),
        ("payments", "002_add_idempotency_key.sql", "payments"),
        # The gateway's own table (APQ documents shared by every process), in its schema.
        ("gateway", "001_persisted_documents.sql", "gateway"),
    }


async def test_restarting_the_app_applies_no_migration_twice(
    make_settings: SettingsFactory, raw_connection: asyncpg.Connection
) -> None:
    for start in range(2):
        async with serve(create_app(make_settings(), services.SERVICES)) as client:
            await create_user(client, f"user{start}@example.com")

    assert len(await tracked(raw_connection)) == 6  # the services' 5 files, the gateway's 1
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 2


async def test_on_startup_hook_gets_every_services_manager_after_migrations(
    make_settings: SettingsFactory,
) -> None:
    seen: list[str] = []

    async def seed(managers: Mapping[str, AsyncDatabaseManager]) -> None:
        seen.extend(managers)
        await managers["users"].execute(
            "INSERT INTO {{tables.users}} (email, name) VALUES ($1, $2)", "seed@example.com", "Seed"
        )

    app = create_app(make_settings(), services.SERVICES, on_startup=seed)
    async with serve(app) as client:
        body = await graphql(client, "{ users { nodes { email } } }")

    assert seen == list(REAL_SERVICES)
    assert body == {"data": {"users": {"nodes": [{"email": "seed@example.com"}]}}}


async def test_failing_migration_at_startup_closes_the_pool_and_raises(
    make_settings: SettingsFactory, raw_connection: asyncpg.Connection, tmp_path: Path
) -> None:
    broken = tmp_path / "broken" / "reviews"
    broken.mkdir(parents=True)
    (broken / "001_create_reviews.sql").write_text("CREATE TABLE {{tables.reviews}} (id SERIAL,,);")
    settings = make_settings(migrations_dir=migrations_dir_with(tmp_path, reviews=broken))
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    with pytest.raises(MigrationError, match=r"001_create_reviews\.sql.*'reviews'"):
        async with serve(app):
            pytest.fail("the app must not start with a broken migration")

    assert await raw_connection.fetchval(GATEWAY_BACKENDS) == 0
    assert {module for module, _ in await tracked(raw_connection)} == set(REAL_SERVICES)


async def test_failing_startup_hook_closes_the_pool_and_raises(
    make_settings: SettingsFactory, raw_connection: asyncpg.Connection
) -> None:
    async def fail(managers: Mapping[str, AsyncDatabaseManager]) -> None:
        raise RuntimeError("the startup hook could not load its data")

    app = create_app(make_settings(), services.SERVICES, on_startup=fail)

    with pytest.raises(RuntimeError, match="could not load its data"):
        async with serve(app):
            pytest.fail("the app must not start when its startup hook fails")

    assert await raw_connection.fetchval(GATEWAY_BACKENDS) == 0


def test_create_app_refuses_a_service_without_a_migrations_folder() -> None:
    settings = app_settings(migrations_dir=REPO_MIGRATIONS)

    with pytest.raises(ServiceConfigurationError) as raised:
        create_app(settings, [*services.SERVICES, extra_service.service])

    message = str(raised.value)
    assert "'reviews' has no migrations folder" in message
    assert str(REPO_MIGRATIONS / "reviews") in message
    assert "create it" in message


# --- /graphql over HTTP ---------------------------------------------------------------------


async def test_post_runs_a_mutation_and_a_query(make_settings: SettingsFactory) -> None:
    async with serve(create_app(make_settings(), services.SERVICES)) as client:
        user_id = await create_user(client, "ada@example.com", "Ada Lovelace")
        body = await graphql(
            client, "query ($id: Int!) { user(id: $id) { id email name } }", {"id": user_id}
        )

    assert body == {
        "data": {"user": {"id": user_id, "email": "ada@example.com", "name": "Ada Lovelace"}}
    }


async def test_get_with_a_query_parameter_runs_the_query(make_settings: SettingsFactory) -> None:
    async with serve(create_app(make_settings(), services.SERVICES)) as client:
        await create_user(client, "ada@example.com")
        response = await client.get(
            "/graphql",
            params={"query": "{ users(first: 5) { nodes { email } pageInfo { hasNextPage } } }"},
            headers=PREFLIGHTED,  # CSRF prevention: a GET operation must prove it is no form
        )

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "users": {"nodes": [{"email": "ada@example.com"}], "pageInfo": {"hasNextPage": False}}
        }
    }


async def test_get_with_a_mutation_is_refused_and_changes_nothing(
    make_settings: SettingsFactory, raw_connection: asyncpg.Connection
) -> None:
    mutation = 'mutation { createUser(input: {email: "get@example.com", name: "Get"}) { id } }'
    async with serve(create_app(make_settings(), services.SERVICES)) as client:
        response = await client.get("/graphql", params={"query": mutation}, headers=PREFLIGHTED)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert len(response.headers["x-correlation-id"]) == 32
    assert "mutations are not allowed" in response.text.lower()
    assert response.json()["errors"][0]["extensions"]["code"] == "MUTATION_OVER_GET"
    assert await raw_connection.fetchval("SELECT count(*) FROM users.users") == 0


async def test_browser_get_receives_the_graphiql_page(make_settings: SettingsFactory) -> None:
    async with serve(create_app(make_settings(), services.SERVICES)) as client:
        response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
async def test_no_rest_documentation_pages_are_served_in_any_mode(
    make_settings: SettingsFactory, production: bool
) -> None:
    paths = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
    async with serve(create_app(make_settings(production=production), services.SERVICES)) as c:
        responses = [await c.get(path, headers={"Accept": "text/html"}) for path in paths]

    assert [response.status_code for response in responses] == [404] * len(paths)
    for response in responses:
        assert "swagger" not in response.text.lower()
        assert "openapi" not in response.text.lower()


async def test_cross_service_fields_resolve_across_three_services(
    make_settings: SettingsFactory,
) -> None:
    async with serve(create_app(make_settings(), services.SERVICES)) as client:
        user_id = await create_user(client, "buyer@example.com", "Buyer")
        placed = await graphql(
            client,
            """mutation ($userId: Int!) {
              placeOrder(input: {userId: $userId, items: [
                {sku: "BOOK", quantity: 2, unitPrice: "12.50"}
              ]}) { id total }
            }""",
            {"userId": user_id},
        )
        assert "errors" not in placed, placed
        body = await graphql(
            client,
            """query ($id: Int!) {
              user(id: $id) {
                name
                orders { nodes { total user { email } payments { nodes { id } } } }
              }
            }""",
            {"id": user_id},
        )

    assert body == {
        "data": {
            "user": {
                "name": "Buyer",
                "orders": {
                    "nodes": [
                        {
                            "total": "25.00",
                            "user": {"email": "buyer@example.com"},
                            "payments": {"nodes": []},
                        }
                    ]
                },
            }
        }
    }


# --- a fourth service, registered without touching gateway/ ---------------------------------


async def test_a_fourth_service_is_served_with_its_field_on_another_services_type(
    make_settings: SettingsFactory, reviews_migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    settings = make_settings(migrations_dir=reviews_migrations)
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    async with serve(app) as client:
        user_id = await create_user(client, "critic@example.com", "Critic")
        for sku, rating in (("BOOK", 5), ("LAMP", 3)):
            added = await graphql(
                client, ADD_REVIEW, {"userId": user_id, "sku": sku, "rating": rating}
            )
            assert "errors" not in added, added
        review_id = added["data"]["addReview"]["id"]
        body = await graphql(
            client,
            """query ($userId: Int!, $reviewId: Int!) {
              user(id: $userId) { name reviews { sku rating author { email } } }
              review(id: $reviewId) { body author { name } }
            }""",
            {"userId": user_id, "reviewId": review_id},
        )
        modules = {module for module, _ in await tracked(raw_connection)}

    assert body == {
        "data": {
            "user": {
                "name": "Critic",
                "reviews": [
                    {"sku": "BOOK", "rating": 5, "author": {"email": "critic@example.com"}},
                    {"sku": "LAMP", "rating": 3, "author": {"email": "critic@example.com"}},
                ],
            },
            "review": {"body": "Solid.", "author": {"name": "Critic"}},
        }
    }
    assert modules == {*REAL_SERVICES, "reviews", "gateway"}
    assert await raw_connection.fetchval("SELECT count(*) FROM reviews.reviews") == 2


# --- errors: codes for what a client caused, masking for everything else --------------------


async def test_unexpected_exception_is_masked_and_logged_with_its_correlation_id(
    make_settings: SettingsFactory, reviews_migrations: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(migrations_dir=reviews_migrations)
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    with caplog.at_level(logging.ERROR, logger="gateway.graphql.errors"):
        async with serve(app) as client:
            response = await client.post("/graphql", json={"query": "{ reviewDigest }"})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["path"] == ["reviewDigest"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    correlation_id = error["extensions"]["correlationId"]
    for secret in (DIGEST_FAILURE, "RuntimeError", "Traceback", "resolvers.py"):
        assert secret not in response.text
    [record] = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert record.exc_info is not None
    assert caplog.text.count(correlation_id) == 1
    assert "Traceback" in caplog.text
    assert f"RuntimeError: {DIGEST_FAILURE}" in caplog.text


async def test_unique_violation_from_a_store_becomes_conflict_without_sql(
    make_settings: SettingsFactory, reviews_migrations: Path, raw_connection: asyncpg.Connection
) -> None:
    settings = make_settings(migrations_dir=reviews_migrations)
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    async with serve(app) as client:
        user_id = await create_user(client, "twice@example.com")
        variables = {"userId": user_id, "sku": "BOOK", "rating": 4}
        first = await graphql(client, ADD_REVIEW, variables)
        response = await client.post("/graphql", json={"query": ADD_REVIEW, "variables": variables})

    assert "errors" not in first, first
    [error] = response.json()["errors"]
    assert error["message"] == "A record with this value already exists."
    assert error["extensions"] == {"code": "CONFLICT"}
    for secret in ("INSERT", "reviews_one_per_user_and_sku", "duplicate key"):
        assert secret not in response.text
    assert await raw_connection.fetchval("SELECT count(*) FROM reviews.reviews") == 1


async def test_check_violation_from_a_store_becomes_bad_user_input(
    make_settings: SettingsFactory, reviews_migrations: Path
) -> None:
    settings = make_settings(migrations_dir=reviews_migrations)
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    async with serve(app) as client:
        user_id = await create_user(client, "harsh@example.com")
        body = await graphql(client, ADD_REVIEW, {"userId": user_id, "sku": "BOOK", "rating": 9})

    [error] = body["errors"]
    assert error["message"] == "A value is outside the allowed range."
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_gateway_error_raised_by_a_resolver_keeps_its_message_and_code(
    make_settings: SettingsFactory, reviews_migrations: Path
) -> None:
    settings = make_settings(migrations_dir=reviews_migrations)
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    async with serve(app) as client:
        body = await graphql(client, ADD_REVIEW, {"userId": 404, "sku": "BOOK", "rating": 4})

    [error] = body["errors"]
    assert error["message"] == "There is no user with id 404."
    assert error["extensions"] == {"code": "NOT_FOUND"}


async def test_unmapped_database_error_is_masked_without_its_sql(
    make_settings: SettingsFactory, reviews_migrations: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(migrations_dir=reviews_migrations)
    app = create_app(settings, [*services.SERVICES, extra_service.service])

    with caplog.at_level(logging.ERROR, logger="gateway.graphql.errors"):
        async with serve(app) as client:
            body = await graphql(client, '{ reviewSearch(text: "good") }')

    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    text = str(body)
    for secret in ("SELEC", "LIKE", "{{tables", "syntax error", "42601"):
        assert secret not in text
    [record] = [r for r in caplog.records if error["extensions"]["correlationId"] in r.getMessage()]
    assert record.exc_info is not None
    assert "QueryError" in caplog.text
