"""Idempotency keys for mutations: a retry returns the first answer instead of acting twice.

A service stores the key with the row its mutation creates, under a unique constraint, in
the same transaction, together with a digest of the mutation's arguments. A retry with the
key finds the row and answers it; the same key with other arguments is refused (CONFLICT).
A write without a client key gets one made up here, so that every written row carries a
key and a COMMIT that got no answer can be settled (`gateway.db.outcomes.settle_commit`).

Usage, in a service's loader:

    key = IdempotencyKey.for_request(input.idempotency_key, order_id, str(amount), currency)
    payment = await key.write_once(
        db,
        lambda: store.insert_payment(db, ..., key.value, key.digest),  # in a transaction
        lambda: store.payment_by_key(db, key.value),
    )
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from gateway.db import AsyncDatabaseManager, CommitOutcomeUnknown, settle_commit
from gateway.graphql.errors import BadUserInput, Conflict, OutcomeUnknown, ServiceUnavailable
from gateway.graphql.text_input import is_storable_text

__all__ = ["MAX_KEY_LENGTH", "IdempotencyKey"]

T = TypeVar("T")

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A mutation's key (`given`: the client sent it) and the digest of its arguments."""

    value: str
    digest: str
    given: bool

    @classmethod
    def for_request(cls, key: str | None, *arguments: object) -> IdempotencyKey:
        """The client's key, checked, or a new one; `arguments` (JSON-able, in a fixed order,
        normalised by the caller: `Decimal("8.5")` and `"8.50"` must give the same text)
        make the digest."""
        if key is not None and not (
            1 <= len(key) <= MAX_KEY_LENGTH and is_storable_text(key) and key.strip() == key
        ):
            raise BadUserInput(
                f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters, without NUL or "
                "leading or trailing spaces; a UUID is a good one."
            )
        canonical = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        if key is None:
            return cls(f"generated:{uuid.uuid4()}", digest, given=False)
        return cls(key, digest, given=True)

    def reused(self, what: str) -> Conflict:
        """The error for this key arriving with other arguments than its first `what`."""
        return Conflict(
            f"This idempotency key was already used for a different {what}; send a new key "
            "for a new request, or the same arguments to get the first answer."
        )

    async def write_once(
        self,
        db: AsyncDatabaseManager,
        write: Callable[[], Awaitable[T]],
        lookup: Callable[[], Awaitable[T | None]],
    ) -> T:
        """`write()` (one transaction storing this key with its row), answered truthfully when
        its COMMIT got no answer: the row `lookup()` finds by the key once the transaction
        is over (it committed), SERVICE_UNAVAILABLE when there is none (nothing was saved),
        OUTCOME_UNKNOWN naming the key to retry with when that cannot be told."""
        try:
            return await write()
        except CommitOutcomeUnknown as unknown:
            try:
                stored = await settle_commit(db, unknown, lookup)
            except CommitOutcomeUnknown:
                raise OutcomeUnknown(
                    "The database connection was lost while the change was being saved, and "
                    "whether it was saved cannot be told yet. Retry with idempotencyKey "
                    f"{json.dumps(self.value)}: a retry with it never acts twice."
                ) from unknown
            if stored is None:
                raise ServiceUnavailable(
                    "The database connection was lost before the change was saved; nothing "
                    "was saved. Retry shortly."
                ) from unknown
            return stored
