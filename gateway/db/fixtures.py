"""pgdbm's ready-made pytest fixtures (pgdbm/fixtures/conftest.py) on gateway.db.

Usage, in the test suite's top-level conftest.py:

    pytest_plugins = ["gateway.db.fixtures"]

    async def test_something(test_db):
        assert await test_db.fetch_value("SELECT 1") == 1

Each fixture gets a new database on the server TEST_DB_HOST/PORT/USER/PASSWORD name (see
`DatabaseTestConfig.from_env`) and drops it afterwards, also when the test fails. To point
them elsewhere, override the `test_db_config` fixture (pgdbm reads only the environment).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

try:  # a pytest plugin: pytest is the test suite's, from the `db-testing` extra
    import pytest
    import pytest_asyncio
except ImportError as missing:  # pragma: no cover - only without the extra
    raise ImportError(
        "gateway.db.fixtures is a pytest plugin: install pytest and pytest-asyncio, "
        "`pip install 'pg-graphql-gateway[db-testing]'`."
    ) from missing

from gateway.db.manager import AsyncDatabaseManager, TransactionManager
from gateway.db.testing import AsyncTestDatabase, DatabaseTestCase, DatabaseTestConfig

__all__ = [
    "DEFAULT_TEST_CONFIG",
    "TestDbFactory",
    "db_test_utils",
    "test_db",
    "test_db_config",
    "test_db_factory",
    "test_db_isolated",
    "test_db_with_data",
    "test_db_with_schema",
    "test_db_with_tables",
]

# Read once at import, as pgdbm does; the `test_db_config` fixture is the override point.
DEFAULT_TEST_CONFIG = DatabaseTestConfig.from_env()


@pytest.fixture
def test_db_config() -> DatabaseTestConfig:
    """The server the fixtures below create their databases on (DEFAULT_TEST_CONFIG)."""
    return DEFAULT_TEST_CONFIG


@pytest_asyncio.fixture
async def test_db(test_db_config: DatabaseTestConfig) -> AsyncIterator[AsyncDatabaseManager]:
    """A connected manager of a new, empty database, dropped after the test."""
    async with AsyncTestDatabase.create(config=test_db_config) as db_manager:
        yield db_manager


@pytest_asyncio.fixture
async def test_db_with_schema(
    test_db_config: DatabaseTestConfig,
) -> AsyncIterator[AsyncDatabaseManager]:
    """Like test_db, the manager bound to schema `test_schema` (created on connect)."""
    async with AsyncTestDatabase.create(schema="test_schema", config=test_db_config) as db_manager:
        yield db_manager


class TestDbFactory:
    """Creates several test databases in one test; `cleanup()` drops them all."""

    __test__ = False  # a helper, not a test class, though its name starts with Test

    def __init__(self, config: DatabaseTestConfig | None = None) -> None:
        self.config = config or DEFAULT_TEST_CONFIG
        self.databases: list[tuple[AsyncTestDatabase, AsyncDatabaseManager]] = []

    async def create_db(
        self, suffix: str | None = None, schema: str | None = None, **kwargs: Any
    ) -> AsyncDatabaseManager:
        """A connected manager of a new database (`schema` created if given)."""
        test_database = AsyncTestDatabase(self.config)
        await test_database.create_test_database(suffix)
        try:
            db_manager = AsyncDatabaseManager(
                test_database.get_test_db_config(schema=schema, **kwargs)
            )
            await db_manager.connect()  # creates the schema, as pgdbm's manager does
        except BaseException:
            await test_database.drop_test_database()
            raise
        self.databases.append((test_database, db_manager))
        return db_manager

    async def cleanup(self) -> None:
        """Disconnect and drop every database created, even if one of them fails."""
        errors: list[BaseException] = []
        for test_database, db_manager in self.databases:
            for step in (db_manager.disconnect, test_database.drop_test_database):
                try:
                    await step()
                except Exception as error:  # keep going: the other databases must go too
                    errors.append(error)
        self.databases.clear()
        if errors:
            raise errors[0]


@pytest_asyncio.fixture
async def test_db_factory(test_db_config: DatabaseTestConfig) -> AsyncIterator[TestDbFactory]:
    """`await test_db_factory.create_db("a", schema="s")`, as often as needed."""
    factory = TestDbFactory(test_db_config)
    try:
        yield factory
    finally:
        await factory.cleanup()


_TABLES = (
    """
    CREATE TABLE users (
        id SERIAL PRIMARY KEY,
        email VARCHAR(255) UNIQUE NOT NULL,
        full_name VARCHAR(255),
        is_active BOOLEAN DEFAULT true,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )
    """,
    """
    CREATE TABLE projects (
        id SERIAL PRIMARY KEY,
        name VARCHAR(255) NOT NULL,
        owner_id INTEGER REFERENCES users(id),
        description TEXT,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )
    """,
    """
    CREATE TABLE agents (
        id SERIAL PRIMARY KEY,
        project_id INTEGER REFERENCES projects(id),
        title VARCHAR(255) NOT NULL,
        status VARCHAR(50) DEFAULT 'pending',
        assigned_to INTEGER REFERENCES users(id),
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )
    """,
)


@pytest_asyncio.fixture
async def test_db_with_tables(
    test_db: AsyncDatabaseManager,
) -> AsyncIterator[AsyncDatabaseManager]:
    """test_db with pgdbm's sample tables: users, projects, agents (in `public`)."""
    for statement in _TABLES:
        await test_db.execute(statement)
    yield test_db


@pytest_asyncio.fixture
async def test_db_with_data(
    test_db_with_tables: AsyncDatabaseManager,
) -> AsyncIterator[AsyncDatabaseManager]:
    """The sample tables with pgdbm's rows: 3 users (alice, bob, charlie), 2 projects owned
    by alice, 5 agents across them (3 assigned to bob)."""
    db = test_db_with_tables
    await db.execute(
        "INSERT INTO users (email, full_name) VALUES "
        "('alice@example.com', 'Alice Smith'), ('bob@example.com', 'Bob Jones'), "
        "('charlie@example.com', 'Charlie Brown')"
    )
    alice_id = await db.fetch_value("SELECT id FROM users WHERE email = 'alice@example.com'")
    await db.execute(
        "INSERT INTO projects (name, owner_id, description) VALUES "
        "('Project Alpha', $1, 'First project'), ('Project Beta', $1, 'Second project')",
        alice_id,
    )
    alpha_id = await db.fetch_value("SELECT id FROM projects WHERE name = 'Project Alpha'")
    beta_id = await db.fetch_value("SELECT id FROM projects WHERE name = 'Project Beta'")
    bob_id = await db.fetch_value("SELECT id FROM users WHERE email = 'bob@example.com'")
    await db.execute(
        "INSERT INTO agents (project_id, title, status, assigned_to) VALUES "
        "($1, 'Design database schema', 'completed', $3), "
        "($1, 'Implement user authentication', 'in_progress', $3), "
        "($1, 'Write tests', 'pending', NULL), "
        "($2, 'Setup CI/CD', 'in_progress', $3), "
        "($2, 'Deploy to production', 'pending', NULL)",
        alpha_id,
        beta_id,
        bob_id,
    )
    yield db


@pytest.fixture
def db_test_utils(test_db: AsyncDatabaseManager) -> DatabaseTestCase:
    """DatabaseTestCase over test_db: create_test_user, count_rows, table_exists, ..."""
    return DatabaseTestCase(test_db)


@pytest_asyncio.fixture
async def test_db_isolated(test_db: AsyncDatabaseManager) -> AsyncIterator[TransactionManager]:
    """A transaction on test_db whose changes are rolled back after the test."""
    async with test_db.transaction() as tx:
        await tx.execute("SAVEPOINT test_isolation")
        yield tx
        # Undoes the test's work (even after an error inside it) before the outer COMMIT.
        await tx.execute("ROLLBACK TO SAVEPOINT test_isolation")
