"""create_subgraph_app(settings, services, name): one service served as a subgraph.

The same app as create_app's (one pool, every service's managers and migrations, tokens
verified, limits, error codes), serving the subgraph's schema instead of the merged one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.federation.subgraph import build_subgraph
from gateway.graphql.service import Service
from gateway.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gateway.app import StartupHook

__all__ = ["create_subgraph_app"]


def create_subgraph_app(
    settings: Settings,
    services: Sequence[Service],
    name: str,
    *,
    on_startup: StartupHook | None = None,
) -> FastAPI:
    """Service `name` of `services` as a Federation 2 subgraph at /graphql.

    Usage: `app = create_subgraph_app(Settings.from_env(), SERVICES, "orders")`.
    """
    from gateway.app import create_app

    subgraph = build_subgraph(services, name)
    # create_app builds the schema now, from the classes in their subgraph shapes; they
    # are themselves again when it returns, the built schema keeping its copies.
    with subgraph.serving():
        return create_app(settings, subgraph.services, on_startup=on_startup)
