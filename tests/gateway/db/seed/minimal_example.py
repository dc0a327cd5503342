# The seed's "Complete Minimal Example", as written, with `from pgdbm import` replaced and the
# connection string read from DSN (set by the test) instead of postgresql://localhost/myapp.
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.db import AsyncDatabaseManager, AsyncMigrationManager, DatabaseConfig

DSN = os.environ["SEED_DSN"]


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Create ONE pool
    config = DatabaseConfig(connection_string=DSN)
    pool = await AsyncDatabaseManager.create_shared_pool(config)

    # Schema-isolated managers
    app.state.users_db = AsyncDatabaseManager(pool=pool, schema="users")
    app.state.orders_db = AsyncDatabaseManager(pool=pool, schema="orders")

    # Migrations
    for db, path, name in [
        (app.state.users_db, "migrations/users", "users"),
        (app.state.orders_db, "migrations/orders", "orders"),
    ]:
        await AsyncMigrationManager(db, path, name).apply_pending_migrations()

    yield

    await pool.close()


app = FastAPI(lifespan=lifespan)
