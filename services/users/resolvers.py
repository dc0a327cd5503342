"""The users service's root fields."""

from __future__ import annotations

import strawberry

from gateway import AdminOnly, Connection, Info, guarded, make_connection
from services.users.data import UserData
from services.users.permissions import UserNamedById
from services.users.types import CreateUserInput, User

MAX_USER_ID = 2**31 - 1  # users.id is an integer column


def user_id_of(subject: str | None) -> int | None:
    """The user id a token's subject names, or None (anonymous, or not a user id)."""
    if subject is None or not (subject.isascii() and subject.isdigit()) or len(subject) > 10:
        return None
    user_id = int(subject)
    return user_id if 0 < user_id <= MAX_USER_ID else None


@strawberry.type
class UsersQuery:
    @strawberry.field(
        description="One user by id, or null: the signed-in user's own, or any for an admin.",
        extensions=[guarded(UserNamedById)],
    )
    async def user(self, info: Info, id: int) -> User | None:
        return await info.context.loaders(UserData).by_id.load(id)

    @strawberry.field(
        description="The signed-in user (the subject of the request's bearer token), or null."
    )
    async def me(self, info: Info) -> User | None:
        user_id = user_id_of(info.context.viewer.subject)
        return None if user_id is None else await info.context.loaders(UserData).by_id.load(user_id)

    @strawberry.field(
        description="Users ordered by id, one page at a time; for admins.",
        extensions=[guarded(AdminOnly)],
    )
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[User] | None:
        page = info.context.page(first, after, last, before)
        return make_connection(await info.context.loaders(UserData).page(page), page)


@strawberry.type
class UsersMutation:
    @strawberry.mutation(description="Open a customer account; the email must be unused.")
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        return await info.context.loaders(UserData).create(input.email, input.name)
