"""The users service's data API: batched reads and writes, what others call."""

from __future__ import annotations

import re

from aiodataloader import DataLoader

from gateway import BadUserInput, PageArgs, by_id_loader, is_storable_text
from gateway.db import AsyncDatabaseManager
from services.users import store
from services.users.types import User

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class UserData:
    """Users by id (batched), pages of users, and account creation."""

    def __init__(self, db: AsyncDatabaseManager) -> None:
        self._db = db
        self.by_id: DataLoader[int, User | None] = by_id_loader(
            lambda ids: store.users_by_ids(db, ids)
        )

    async def page(self, page: PageArgs) -> list[User]:
        return await store.users_page(self._db, page)

    async def create(self, email: str, name: str) -> User:
        email, name = email.strip(), name.strip()
        if not is_storable_text(email):
            raise BadUserInput("An email address cannot contain NUL or unpaired surrogates.")
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            raise BadUserInput(f"{email[:60]!r} is not an email address.")
        if not 1 <= len(name) <= 200:
            raise BadUserInput("A name must have between 1 and 200 characters.")
        if not is_storable_text(name):
            raise BadUserInput("A name cannot contain NUL or unpaired surrogates.")
        user = await store.insert_user(self._db, email.lower(), name)
        self.by_id.prime(user.id, user)
        return user
