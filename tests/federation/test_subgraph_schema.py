"""Each service's subgraph SDL: entities with @key, stubs of the others' entities, composed
without errors by the real composition; and the in-process schema left as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse

import services
from gateway.federation import build_subgraph
from gateway.federation.cluster import compose, federated
from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_every_entity_has_its_key_and_stubs_carry_the_fields_a_service_adds() -> None:
    sdl = {
        name: build_subgraph(services.SERVICES, name).sdl for name in federated(services.SERVICES)
    }
    assert set(sdl) == {"users", "orders", "payments"}
    assert '@link(url: "https://specs.apollo.dev/federation/v2.9"' in sdl["users"]
    assert 'type User implements Node @key(fields: "id", resolvable: true)' in sdl["users"]
    assert 'type Order implements Node @key(fields: "id", resolvable: true)' in sdl["orders"]
    assert 'type Payment implements Node @key(fields: "id", resolvable: true)' in sdl["payments"]
    # The stubs: the key and the fields the service adds, resolved there.
    orders_user = _type(sdl["orders"], "User")
    assert orders_user.startswith('type User @key(fields: "id", resolvable: true) {')
    assert [line.split("(")[0].split(":")[0] for line in _fields(orders_user)] == ["id", "orders"]
    payments_order = _type(sdl["payments"], "Order")
    assert "userId: Int! @external" in payments_order
    assert '@ownOrder @requires(fields: "userId")' in payments_order
    # The owner serves the private attribute the stub's permission (OwnOrder) reads, hidden
    # from the router's clients.
    assert "userId: Int! @inaccessible" in _type(sdl["orders"], "Order")
    assert _type(sdl["users"], "PageInfo").startswith("type PageInfo @shareable {")
    for text in sdl.values():
        parse(text)  # valid GraphQL
        assert "\n  node(" not in text  # each subgraph knows only its own types


def test_subgraphs_compose_into_a_supergraph(federation_packages: None, tmp_path: Path) -> None:
    urls = {}
    for name in federated(services.SERVICES):
        (tmp_path / f"{name}.graphql").write_text(build_subgraph(services.SERVICES, name).sdl)
        urls[name] = f"http://127.0.0.1:1/{name}"
    output = compose(urls, tmp_path / "supergraph.graphql", sdl_dir=tmp_path)
    assert "error" not in output
    supergraph = (tmp_path / "supergraph.graphql").read_text()
    assert '@join__type(graph: ORDERS, key: "id") @join__type(graph: USERS, key: "id")' in (
        supergraph
    )
    assert '@join__field(graph: PAYMENTS, requires: "userId")' in supergraph


def test_building_subgraphs_leaves_the_in_process_schema_byte_identical() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert build_schema(services.SERVICES).as_str() + "\n" == committed
    for name in federated(services.SERVICES):
        build_subgraph(services.SERVICES, name)
    assert build_schema(services.SERVICES).as_str() + "\n" == committed


def test_a_tenant_scoped_or_unknown_service_is_no_subgraph() -> None:
    with pytest.raises(ServiceConfigurationError, match="tenant-scoped"):
        build_subgraph(services.SERVICES, "projects")
    with pytest.raises(ServiceConfigurationError, match="No service is named 'shop'"):
        build_subgraph(services.SERVICES, "shop")


def _type(sdl: str, name: str) -> str:
    """The definition of type `name` in `sdl`, from `type Name` to its closing brace."""
    start = next(
        index for index, line in enumerate(sdl.splitlines()) if line.startswith(f"type {name} ")
    )
    lines = sdl.splitlines()[start:]
    return "\n".join(lines[: lines.index("}") + 1])


def _fields(definition: str) -> list[str]:
    return [
        line.strip()
        for line in definition.splitlines()[1:-1]
        if line.strip() and not line.strip().startswith('"')
    ]
