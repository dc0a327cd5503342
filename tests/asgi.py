"""Talking to the real app in-process: its lifespan runs, httpx's ASGI transport carries the
requests in the test's own task (so `count_statements()` around a request sees its SQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.tokens import ADMIN_TOKEN, bearer

__all__ = ["PREFLIGHTED", "serve"]

# CSRF prevention: a GET that runs an operation must show it is no cross-site form.
PREFLIGHTED = {"apollo-require-preflight": "true"}


@asynccontextmanager
async def serve(
    app: FastAPI, *, timeout: float = 30, token: str | None = ADMIN_TOKEN
) -> AsyncIterator[httpx.AsyncClient]:
    """Run `app`'s lifespan (pool, migrations) and yield a client talking to it, sending
    `token` (an admin's unless told; None: anonymous) with every request."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://gateway",
            timeout=timeout,
            headers=bearer(token) if token is not None else None,
        ) as client:
            yield client
