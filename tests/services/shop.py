"""The shop on the demo data over real HTTP, asked as whichever token a test names (Ada is
user 1 with orders 1 and 2, Grace user 2 with orders 3 and 4); the `shop` fixture
(tests/services/conftest.py) serves it, anonymous unless a token is given."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.tokens import bearer


class Shop:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def ask(self, query: str, token: str | None = None, **variables: Any) -> Any:
        """The JSON answer to `query` asked with `token` (anonymous without one); any status
        but 200, or SQL in the answer, fails the test."""
        response = await self.client.post(
            "/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={"content-type": "application/json", **(bearer(token) if token else {})},
        )
        assert response.status_code == 200, response.text
        assert "SELECT" not in response.text
        return response.json()
