"""The subscription load (benchmarks/subscriptions.py) runs end to end at a tiny scale.

Its timings and memory figures are not judged here (a short run may go either way): only
that every subscriber receives exactly the events it is entitled to, and that the checks
would see it if one did not.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.subscription_driver import Change
from benchmarks.subscription_plan import Subscription, check_deliveries, plan_subscriptions
from tests.benchmark_cli import run_benchmark


def test_every_subscriber_receives_each_event_it_is_entitled_to_once_in_order(
    database_url: str, tmp_path: Path
) -> None:
    run_benchmark(
        "benchmarks.subscriptions",
        *("--users", "20", "--subscribers", "20", "--connections", "4"),
        *("--rate", "20", "--seconds", "2", "--orders", "10", "--owners", "2"),
        *("--output", str(tmp_path)),
        database_url=database_url,
    )

    result = json.loads((tmp_path / "subscriptions.json").read_text())
    checks = result["checks"]
    assert result["passed"] is True, checks["failures"]
    # 16 orderUpdated (4 changes of their order each) and 4 myOrderUpdates (20 changes of
    # their user's 5 orders each): 144 deliveries.
    run = result["run"]
    assert (run["order_updated"], run["my_order_updates"], run["connections"]) == (16, 4, 4)
    assert run["changes"] == 40
    assert checks["expected"] == checks["delivered"] == 144
    assert checks["exact"] == checks["subscriptions"] == 20
    for problem in ("missing", "duplicates", "out_of_order", "not_entitled", "wrong_content"):
        assert checks[problem] == 0, problem
    assert (checks["events_missed"], checks["other_errors"]) == (0, {})
    assert (checks["refused"], checks["completed"], checks["closed"]) == (0, 0, 0)
    assert (checks["gateway_errors"], checks["gateway_alive"]) == (0, True)
    assert result["latency"]["count"] == 144
    assert result["samples"]
    assert all(sample["rss"] > 0 for sample in result["samples"])
    assert result["memory"]["end"]["rss"] > 0

    report = (tmp_path / "subscriptions.md").read_text()
    assert "| received | 144 |" in report
    assert "| subscriptions that received exactly their events | 20 of 20 |" in report
    assert f"**Verdict** {result['verdict']}" in report
    assert result["verdict"].startswith("PASSED:")


def _order(marker: int, order_id: int, status: str = "PAID") -> dict[str, object]:
    return {"id": order_id, "status": status, "total": f"{marker}.00"}


def test_the_checks_see_missing_duplicate_reordered_foreign_and_missed_deliveries() -> None:
    # Connection 0 signs in as user 1, connection 1 as user 2: myOrderUpdates, then
    # orderUpdated of the user's first order.
    plan = plan_subscriptions({1: [10, 11], 2: [20, 21]}, subscribers=4, connections=2)
    mine_1, order_10, mine_2, order_20 = plan.subscriptions
    assert (mine_1.order_id, order_10.order_id, mine_2.order_id, order_20.order_id) == (
        None,
        10,
        None,
        20,
    )
    changes = [
        Change(1, 10, 1, "PAID", 100.0, 100.0),
        Change(2, 20, 2, "PAID", 100.1, 100.1),
        Change(3, 11, 1, "SHIPPED", 100.2, 100.2),
        Change(4, 21, 2, "SHIPPED", 100.3, 100.3),
    ]

    def deliver(subscription: Subscription, *orders: dict[str, object]) -> None:
        for order in orders:
            subscription.take({"data": {subscription.field_name: order}}, 101.0)

    deliver(mine_1, _order(1, 10), _order(3, 11, "SHIPPED"))
    deliver(order_10, _order(1, 10))
    deliver(mine_2, _order(2, 20), _order(4, 21, "SHIPPED"))
    deliver(order_20, _order(2, 20))
    clean, latencies = check_deliveries(plan, changes)
    assert clean.passed, clean.failures
    assert (clean.expected, clean.delivered, clean.exact) == (6, 6, 4)
    assert len(latencies) == 6

    for subscription in plan.subscriptions:
        subscription.received.clear()
    deliver(mine_1, _order(3, 11, "SHIPPED"), _order(1, 10))  # reordered
    deliver(order_10, _order(1, 10), _order(1, 10))  # duplicated
    deliver(mine_2, _order(2, 20))  # the change of order 21 missing
    deliver(order_20, _order(2, 20), _order(4, 21, "SHIPPED"))  # another order's change
    order_20.take({"data": None, "errors": [{"extensions": {"code": "EVENTS_MISSED"}}]}, 101.0)
    broken, _ = check_deliveries(plan, changes)
    assert not broken.passed
    assert (broken.out_of_order, broken.duplicates, broken.missing) == (1, 1, 1)
    assert (broken.not_entitled, broken.events_missed, broken.exact) == (1, 1, 0)
    assert len(broken.failures) == 4


def test_the_full_scale_plan_spreads_subscribers_evenly() -> None:
    owners = {user: list(range(user * 100, user * 100 + 10)) for user in range(1, 11)}
    plan = plan_subscriptions(owners, subscribers=1000, connections=50)

    per_connection = [0] * 50
    per_order: dict[int, int] = {}
    for subscription in plan.subscriptions:
        per_connection[subscription.connection] += 1
        if subscription.order_id is not None:
            assert subscription.order_id in owners[subscription.user_id]
            per_order[subscription.order_id] = per_order.get(subscription.order_id, 0) + 1
    assert set(per_connection) == {20}
    assert len(per_order) == 100
    assert set(per_order.values()) == {9}
    assert sum(s.order_id is None for s in plan.subscriptions) == 100
