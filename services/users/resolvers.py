"""The users service's root fields."""

from __future__ import annotations

import strawberry

from gateway import Connection, Info, make_connection
from services.users.data import UserData
from services.users.types import CreateUserInput, User


@strawberry.type
class UsersQuery:
    @strawberry.field(description="One user by id, or null.")
    async def user(self, info: Info, id: int) -> User | None:
        return await info.context.loaders(UserData).by_id.load(id)

    @strawberry.field(description="Users ordered by id, one page at a time.")
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        page = info.context.page(first, after)
        return make_connection(await info.context.loaders(UserData).page(page), page)


@strawberry.type
class UsersMutation:
    @strawberry.mutation(description="Open a customer account; the email must be unused.")
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        return await info.context.loaders(UserData).create(input.email, input.name)
