"""Who subscribes to what in the subscription load, and whether each got what it is entitled to.

    plan = plan_subscriptions(await pick_orders(conn, orders=100, owners=10), 1000, 50)
    checks, latencies = check_deliveries(plan, changes, connections)

The plan: the orders that change (picked from the seed), their owners, and every
subscription, spread evenly over the connections (each signed in as one owner). A
Subscription also keeps what its connection received for it; the checker compares that with
the changes it is entitled to (its order's, or its user's orders'): all of them, in commit
order, no duplicates, nothing else, no EVENTS_MISSED or other error.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg

from benchmarks.subscription_driver import Change
from benchmarks.subscription_report import Checks

if TYPE_CHECKING:
    from benchmarks.subscription_clients import Connection

__all__ = [
    "FAILURE_EXAMPLES",
    "PROBE_BASE",
    "Plan",
    "Subscription",
    "check_deliveries",
    "expected_changes",
    "pick_orders",
    "plan_subscriptions",
]

ORDER_UPDATED = "subscription ($id: Int!) { orderUpdated(id: $id) { id status total } }"
MY_ORDER_UPDATES = "subscription { myOrderUpdates { id status total } }"
MY_UPDATES_EVERY = 10  # every tenth subscription of a connection is myOrderUpdates
# Set-up changes set totals from here on; the measured run's are 1, 2, 3, ... (NUMERIC(12, 2)).
PROBE_BASE = 1_000_000_000
FAILURE_EXAMPLES = 10


@dataclass
class Subscription:
    """One subscription and everything its connection received for it."""

    index: int
    connection: int
    operation: str  # its id on the connection
    user_id: int  # the signed-in owner
    order_id: int | None  # orderUpdated(id); None for myOrderUpdates
    # Measured-run `next` results: (marker, order id, status, time.time() at receipt).
    received: list[tuple[int, int, str, float]] = field(default_factory=list)
    probes: defaultdict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    late_probes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    refusals: list[Any] = field(default_factory=list)
    completed: bool = False
    measuring: bool = False

    @property
    def field_name(self) -> str:
        return "myOrderUpdates" if self.order_id is None else "orderUpdated"

    def message(self) -> dict[str, Any]:
        payload: dict[str, Any] = (
            {"query": MY_ORDER_UPDATES}
            if self.order_id is None
            else {"query": ORDER_UPDATED, "variables": {"id": self.order_id}}
        )
        return {"id": self.operation, "type": "subscribe", "payload": payload}

    def take(self, payload: dict[str, Any], received_at: float) -> None:
        for error in payload.get("errors") or ():
            self.errors[str((error.get("extensions") or {}).get("code", "NO_CODE"))] += 1
        order = (payload.get("data") or {}).get(self.field_name)
        if not order:
            return
        marker = int(Decimal(order["total"]))
        if marker >= PROBE_BASE:
            self.probes[marker - PROBE_BASE].add(int(order["id"]))
            if self.measuring:
                self.late_probes += 1
            return
        self.received.append((marker, int(order["id"]), order["status"], received_at))


@dataclass(frozen=True)
class Plan:
    """The orders that change (id, owner), the owners, and every subscription."""

    orders: list[tuple[int, int]]
    owners: list[int]
    subscriptions: list[Subscription]

    def orders_of(self, user_id: int) -> set[int]:
        return {order for order, owner in self.orders if owner == user_id}

    def entitled(self, subscription: Subscription) -> set[int]:
        """The orders whose changes `subscription` is to receive."""
        if subscription.order_id is not None:
            return {subscription.order_id}
        return self.orders_of(subscription.user_id)


def plan_subscriptions(
    orders_by_owner: dict[int, list[int]], subscribers: int, connections: int
) -> Plan:
    """Connection c signs in as owner c % owners; its subscriptions (an even share) are
    myOrderUpdates every MY_UPDATES_EVERY-th, else orderUpdated of that owner's orders in
    turn (each owner's orders spread evenly over its orderUpdated subscriptions)."""
    owners = sorted(orders_by_owner)
    subscriptions: list[Subscription] = []
    next_order = dict.fromkeys(owners, 0)
    for connection in range(connections):
        owner = owners[connection % len(owners)]
        share = subscribers // connections + (connection < subscribers % connections)
        for slot in range(share):
            order_id = None
            if slot % MY_UPDATES_EVERY:
                mine = orders_by_owner[owner]
                order_id = mine[next_order[owner] % len(mine)]
                next_order[owner] += 1
            subscriptions.append(
                Subscription(
                    index=len(subscriptions),
                    connection=connection,
                    operation=str(slot + 1),
                    user_id=owner,
                    order_id=order_id,
                )
            )
    orders = [(order, owner) for owner in owners for order in orders_by_owner[owner]]
    return Plan(orders=orders, owners=owners, subscriptions=subscriptions)


async def pick_orders(conn: asyncpg.Connection, orders: int, owners: int) -> dict[int, list[int]]:
    """`orders` seeded orders of the first `owners` users having enough, an even share each."""
    shares = [orders // owners + (k < orders % owners) for k in range(owners)]
    rows = await conn.fetch(
        """
        SELECT user_id, (array_agg(id ORDER BY id))[1:$2] AS ids
        FROM orders.orders GROUP BY user_id HAVING count(*) >= $2
        ORDER BY user_id LIMIT $1
        """,
        owners,
        max(shares),
    )
    if len(rows) < owners:
        raise RuntimeError(
            f"The seed has {len(rows)} users with {max(shares)} orders or more, not {owners}: "
            "raise --users or lower --orders."
        )
    return {
        row["user_id"]: list(row["ids"][:share]) for row, share in zip(rows, shares, strict=True)
    }


def expected_changes(plan: Plan, changes: list[Change]) -> dict[int, list[Change]]:
    """Per subscription index, the changes it is entitled to, in commit order."""
    by_order: defaultdict[int, list[Change]] = defaultdict(list)
    by_user: defaultdict[int, list[Change]] = defaultdict(list)
    for change in changes:
        by_order[change.order_id].append(change)
        by_user[change.user_id].append(change)
    return {
        s.index: by_order[s.order_id] if s.order_id is not None else by_user[s.user_id]
        for s in plan.subscriptions
    }


def check_deliveries(
    plan: Plan, changes: list[Change], connections: Sequence[Connection] = ()
) -> tuple[Checks, list[tuple[float, float]]]:
    """Every subscription's messages against what it is entitled to (and what the
    connections saw besides); and each entitled delivery's (commit time, latency)."""
    checks = Checks(subscriptions=len(plan.subscriptions))
    latencies: list[tuple[float, float]] = []
    expected = expected_changes(plan, changes)
    by_marker = {change.marker: change for change in changes}
    errors: Counter[str] = Counter()
    for s in plan.subscriptions:
        wanted = expected[s.index]
        markers = {change.marker for change in wanted}
        seen: set[int] = set()
        problems: Counter[str] = Counter()
        last = 0
        for marker, order_id, status, received_at in s.received:
            change = by_marker.get(marker)
            if change is None or marker not in markers:
                problems["not entitled"] += 1
                continue
            if marker in seen:
                problems["duplicate"] += 1
                continue
            seen.add(marker)
            if marker < last:
                problems["out of order"] += 1
            last = max(last, marker)
            if (order_id, status) != (change.order_id, change.status):
                problems["wrong content"] += 1
            latencies.append((change.committed_at, received_at - change.committed_at))
        missing = len(markers - seen)
        if missing:
            problems["missing"] = missing
        for code, n in s.errors.items():
            problems[code] += n
        if s.late_probes:
            problems["late set-up event"] += s.late_probes
        if s.refusals:
            problems["refused"] += 1
        if s.completed:
            problems["completed by the server"] += 1
        checks.expected += len(wanted)
        checks.delivered += len(seen)
        checks.missing += missing
        checks.duplicates += problems["duplicate"]
        checks.out_of_order += problems["out of order"]
        checks.not_entitled += problems["not entitled"]
        checks.wrong_content += problems["wrong content"]
        checks.late_probes += s.late_probes
        checks.refused += bool(s.refusals)
        checks.completed += s.completed
        errors.update(s.errors)
        exact = [marker for marker, *_ in s.received] == [c.marker for c in wanted]
        if exact and not problems:
            checks.exact += 1
        elif len(checks.failures) < FAILURE_EXAMPLES:
            what = f"orderUpdated(id: {s.order_id})" if s.order_id else "myOrderUpdates"
            found = ", ".join(f"{name} {n}" for name, n in problems.items() if n)
            checks.failures.append(
                f"subscription {s.index} (connection {s.connection}, user {s.user_id}, {what}): "
                f"{len(s.received)} received of {len(wanted)} entitled; {found or 'order differs'}"
            )
    checks.events_missed = errors.pop("EVENTS_MISSED", 0)
    checks.other_errors = dict(errors)
    checks.closed = sum(c.closed_by_server is not None for c in connections)
    for connection in connections:
        if connection.closed_by_server and len(checks.failures) < FAILURE_EXAMPLES:
            checks.failures.append(
                f"connection {connection.index} closed by the server: {connection.closed_by_server}"
            )
        if connection.stray and len(checks.failures) < FAILURE_EXAMPLES:
            checks.failures.append(
                f"connection {connection.index}: {len(connection.stray)} message(s) for no "
                f"subscription, e.g. {connection.stray[0]}"
            )
    return checks, latencies
