"""What travels from a change in PostgreSQL to a subscriber: ids, never rows.

    await notify(tx, "orders", {"order_id": order.id, "user_id": order.user_id})

`notify` runs `pg_notify` inside the caller's transaction, so PostgreSQL delivers the event
when, and only if, the change commits; a rolled-back change notifies nobody. Subscribers
load the rows themselves, through their service's loaders, under their own rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.db.identifiers import validate_identifier
from gateway.db.queries import QueryRunner

__all__ = ["MAX_PAYLOAD_BYTES", "Event", "notify", "notify_sql"]

# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; ids take a few dozen.
MAX_PAYLOAD_BYTES = 1000


@dataclass(eq=False)
class Event:
    """One notification as its subscribers see it: its channel and its ids.

    `loaders` is shared by every subscriber of this event, so that the rows they load for
    it are read once, in one statement per level, whoever asks (gateway.graphql.context).
    """

    channel: str
    ids: dict[str, Any]
    loaders: dict[Any, Any] = field(default_factory=dict)


def notify_sql(channel: str, **columns: str) -> str:
    """A SQL expression that notifies `channel` with the named columns' values as ids, for
    a statement that changes the row (no extra round trip):

        notify_sql("orders", order_id="id", user_id="user_id")
        -> pg_notify('orders', json_build_object('order_id', id, 'user_id', user_id)::text)

    Evaluated once per changed row, in the statement's transaction: delivered on commit.
    """
    validate_identifier(channel, kind="channel")
    pairs = ", ".join(
        f"'{validate_identifier(key, kind='id name')}', "
        f"{validate_identifier(column, kind='column')}"
        for key, column in columns.items()
    )
    return f"pg_notify('{channel}', json_build_object({pairs})::text)"


async def notify(tx: QueryRunner, channel: str, ids: dict[str, int | str]) -> None:
    """Tell `channel`'s subscribers, once `tx` commits, that the rows named by `ids` changed.

    `ids` holds ids only (ints or short strings): the payload is visible to every listener
    of the database, so it must carry nothing a subscriber may not see.
    """
    validate_identifier(channel, kind="channel")
    if not all(isinstance(value, (int, str)) for value in ids.values()):
        raise TypeError("An event carries ids only: ints or strings.")
    payload = orjson.dumps(ids).decode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"An event's ids are at most {MAX_PAYLOAD_BYTES} bytes of JSON.")
    await tx.execute("SELECT pg_notify($1, $2)", channel, payload)
