"""Each service as an Apollo Federation 2 subgraph, for a router to compose.

    gateway serve --subgraph orders --port 8002          # one subgraph per process
    gateway export-schema --subgraph orders -o orders.graphql

`build_subgraph` (gateway.federation.subgraph) says what a subgraph serves; its types take
their subgraph shapes (gateway.federation.shapes) only while its schemas are built, so the
in-process gateway's schema stays as it is. `_entities` is gateway.federation.entities;
gateway.federation.cluster runs the subgraphs and Hive Gateway together (scripts/federation).
"""

from __future__ import annotations

from gateway.federation.app import create_subgraph_app
from gateway.federation.subgraph import Subgraph, build_subgraph

__all__ = ["Subgraph", "build_subgraph", "create_subgraph_app"]
