"""The shop's subscriptions over graphql-transport-ws on a real server: an order's status
change reaches its subscriber as it commits, a refused or rolled-back change reaches nobody,
and each subscriber receives only what it may read."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from tests.live_server import LiveServer
from tests.services.shop import Shop
from tests.subscriptions.conftest import ADA, ADMIN, GRACE, PAY, place_order
from tests.tokens import token_for
from tests.ws_client import graphql_ws

ORDER_UPDATED = "subscription ($id: Int!) { orderUpdated(id: $id) { id status total } }"
MY_UPDATES = "subscription { myOrderUpdates { id status user { name } } }"


async def no_message(client: object, seconds: float = 0.5) -> bool:
    """Whether nothing arrives within `seconds` (an event that must not come)."""
    try:
        await client.receive(timeout=seconds)  # type: ignore[attr-defined]
    except TimeoutError:
        return True
    return False


async def test_an_order_becoming_paid_reaches_its_subscriber_as_it_commits(
    live: LiveServer, shop: Shop
) -> None:
    order = await place_order(shop, ADA, 1)
    async with graphql_ws(live.ws_url, token=ADA) as client:
        operation = await client.subscribe(ORDER_UPDATED, {"id": order["id"]})
        await asyncio.sleep(0.3)  # the LISTEN is in place before the payments commit
        # Half, refused over-payment (rolled back), then the rest: two changes commit.
        half = await shop.ask(PAY, ADA, orderId=order["id"], amount="5.00")
        too_much = await shop.ask(PAY, ADA, orderId=order["id"], amount="50.00")
        assert too_much["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "errors" not in half
        rest = await shop.ask(PAY, ADA, orderId=order["id"], amount="5.00")
        assert "errors" not in rest

        # The half payment changed no order row: only the full payment is an event.
        paid = await client.receive()
        assert paid == {
            "id": operation,
            "type": "next",
            "payload": {
                "data": {"orderUpdated": {"id": order["id"], "status": "PAID", "total": "10.00"}}
            },
        }
        assert await no_message(client)


async def test_another_users_order_is_not_found_and_an_anonymous_subscriber_forbidden(
    live: LiveServer, shop: Shop
) -> None:
    order = await place_order(shop, ADA, 1)
    async with graphql_ws(live.ws_url, token=GRACE) as client:
        await client.subscribe(ORDER_UPDATED, {"id": order["id"]})
        refused = await client.receive()
        assert refused["type"] in ("next", "error"), refused
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["NOT_FOUND"]
    async with graphql_ws(live.ws_url) as anonymous:
        await anonymous.subscribe(ORDER_UPDATED, {"id": order["id"]})
        refused = await anonymous.receive()
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"]  # as over HTTP


async def test_my_order_updates_carries_the_viewers_orders_only(
    live: LiveServer, shop: Shop
) -> None:
    async with (
        graphql_ws(live.ws_url, token=ADA) as ada,
        graphql_ws(live.ws_url, token=ADMIN) as admin,
    ):
        await ada.subscribe(MY_UPDATES)
        await admin.subscribe(MY_UPDATES)
        await asyncio.sleep(0.3)
        await place_order(shop, GRACE, 2)  # Grace's: neither hears of it
        mine = await place_order(shop, ADA, 1)

        event = await ada.receive()
        assert event["payload"]["data"]["myOrderUpdates"] == {
            "id": mine["id"],
            "status": "PENDING",
            "user": {"name": "Ada Lovelace"},
        }
        assert await no_message(ada)
        assert await no_message(admin)  # an admin's own orders, not everyone's


async def test_a_bad_token_in_connection_init_closes_the_connection_4403(
    live: LiveServer,
) -> None:
    for init in ({"Authorization": "Bearer not-a-jwt"}, {"Authorization": 7}):
        with pytest.raises(ConnectionClosedError) as closed:
            async with graphql_ws(live.ws_url, init=init):
                pytest.fail("a bad token must not be acknowledged")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


async def test_a_page_on_an_unlisted_origin_cannot_open_a_websocket(
    serve_live: object,
) -> None:
    server = serve_live(cors_origins=("https://shop.example",))  # type: ignore[operator]
    with pytest.raises(InvalidStatus) as refused:
        async with graphql_ws(server.ws_url, token=ADA, origin="https://evil.example"):
            pytest.fail("cross-site WebSocket hijacking must be refused")
    assert refused.value.response.status_code == 403
    async with graphql_ws(server.ws_url, token=ADA, origin="https://shop.example"):
        pass  # the allow-listed origin is accepted
    async with graphql_ws(server.ws_url, token=ADA):
        pass  # no Origin: not a browser, accepted


async def test_allowlist_mode_holds_over_websockets_too(serve_live: object, tmp_path: Path) -> None:
    allowed = "subscription Mine { myOrderUpdates { id status } }"
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({hashlib.sha256(allowed.encode()).hexdigest(): allowed}))
    server = serve_live(persisted_queries="allowlist", persisted_manifest=manifest)  # type: ignore[operator]
    async with graphql_ws(server.ws_url, token=ADMIN) as client:
        unlisted = await client.subscribe("query Unlisted { users(first: 2) { nodes { email } } }")
        refused = await client.receive()
        assert refused["id"] == unlisted
        assert refused["type"] == "error"
        assert [error["extensions"]["code"] for error in refused["payload"]] == [
            "PERSISTED_QUERY_NOT_ALLOWED"
        ]
        await client.subscribe(allowed)  # the manifest's document runs
        assert await no_message(client)  # no error: it waits for events


async def test_the_operation_limits_hold_for_subscriptions(live: LiveServer) -> None:
    nested = "id"
    for _ in range(12):  # far past the depth limit
        nested = f"user {{ orders(first: 2) {{ nodes {{ {nested} }} }} }}"
    async with graphql_ws(live.ws_url, token=ADA) as client:
        deep = await client.subscribe(f"subscription {{ myOrderUpdates {{ {nested} }} }}")
        refused = await client.receive()
        assert refused["id"] == deep
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["QUERY_TOO_DEEP"]


def metric(text: str, name: str) -> float:
    """The value of the unlabelled sample `name` in a Prometheus text answer."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def test_metrics_count_websockets_subscriptions_and_events(
    live: LiveServer, shop: Shop
) -> None:
    async with graphql_ws(live.ws_url, token=ADA) as client:
        await client.subscribe(MY_UPDATES)
        await asyncio.sleep(0.3)
        before = (await shop.client.get("/metrics")).text
        await place_order(shop, ADA, 1)
        await client.receive()
        after = (await shop.client.get("/metrics")).text

    assert metric(before, "gateway_websockets_open") == 1
    assert metric(before, "gateway_subscriptions") == 1
    assert metric(before, "gateway_event_listener_connected") == 1
    heard = metric(after, "gateway_subscription_events_total")
    assert heard == metric(before, "gateway_subscription_events_total") + 1
    assert metric(after, "gateway_subscription_events_dropped_total") == 0
    assert metric(after, "gateway_event_listener_reconnections_total") == 0


async def test_a_subscription_ends_unauthenticated_once_its_token_has_expired(
    live: LiveServer, shop: Shop
) -> None:
    short_lived = token_for(1, ttl=2)
    async with graphql_ws(live.ws_url, token=short_lived) as client:
        operation = await client.subscribe(MY_UPDATES)
        await asyncio.sleep(2.5)  # the token expires; the socket stays open
        await place_order(shop, ADA, 1)

        refused = await client.receive()
        assert refused["id"] == operation
        assert [error["extensions"]["code"] for error in refused["payload"]["errors"]] == [
            "UNAUTHENTICATED"
        ]
        assert refused["payload"]["data"] is None  # the order is not sent
        assert await client.receive() == {"id": operation, "type": "complete"}
