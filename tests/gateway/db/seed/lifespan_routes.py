# The seed's "Lifespan Handler" and "Dependency Injection" blocks, as written, with
# `from pgdbm import` replaced and the connection string read from SEED_DSN.
import os
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from gateway.db import AsyncDatabaseManager, AsyncMigrationManager, DatabaseConfig

DSN = os.environ["SEED_DSN"]


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Startup: Create shared pool
    config = DatabaseConfig(connection_string=DSN)
    shared_pool = await AsyncDatabaseManager.create_shared_pool(config)

    # Create schema-isolated managers
    app.state.dbs = {
        "users": AsyncDatabaseManager(pool=shared_pool, schema="users"),
        "orders": AsyncDatabaseManager(pool=shared_pool, schema="orders"),
    }

    # Run migrations for each
    for name, db in app.state.dbs.items():
        migrations = AsyncMigrationManager(
            db, migrations_path=f"migrations/{name}", module_name=name
        )
        await migrations.apply_pending_migrations()

    yield

    # Shutdown: Close pool
    await shared_pool.close()


app = FastAPI(lifespan=lifespan)


# Use in routes
@app.post("/users")
async def create_user(email: str, request: Request):
    db = request.app.state.dbs["users"]
    user_id = await db.fetch_value(
        "INSERT INTO {{tables.users}} (email) VALUES ($1) RETURNING id", email
    )
    return {"id": user_id}


# dependencies.py
async def get_users_db(request: Request):
    return request.app.state.dbs["users"]


async def get_orders_db(request: Request):
    return request.app.state.dbs["orders"]


UsersDB = Annotated[AsyncDatabaseManager, Depends(get_users_db)]
OrdersDB = Annotated[AsyncDatabaseManager, Depends(get_orders_db)]


# routes.py (mounted under /di so both variants of the seed live in one app)
@app.post("/di/users")
async def create_user_di(email: str, db: UsersDB):
    user_id = await db.fetch_value(
        "INSERT INTO {{tables.users}} (email) VALUES ($1) RETURNING id", email
    )
    return {"id": user_id}
