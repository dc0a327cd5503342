# The seed's "Singleton Pattern", as written, with `from pgdbm import` replaced.
import asyncio
from typing import Optional

import asyncpg

from gateway.db import AsyncDatabaseManager, DatabaseConfig


class SharedDatabaseManager:
    _instance: Optional["SharedDatabaseManager"] = None
    _pool: asyncpg.Pool | None = None
    _initialized: bool = False

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    async def initialize(self, database_url: str):
        if self._initialized:
            return
        config = DatabaseConfig(connection_string=database_url)
        self._pool = await AsyncDatabaseManager.create_shared_pool(config)
        self._initialized = True

    def get_pool(self) -> asyncpg.Pool:
        if not self._initialized:
            raise RuntimeError("Not initialized")
        return self._pool

    async def close(self):
        if self._pool:
            await self._pool.close()


__all__ = ["SharedDatabaseManager", "asyncio"]
