"""The request body, read once: bounded in size and in time, then replayed to the app.

    body = await read_body(receive, headers, max_bytes=1_000_000, timeout=10.0)
    await app(scope, replay_body(body, receive), send)

A body over `max_bytes` is refused (REQUEST_TOO_LARGE, 413) as soon as its declared length
or the bytes that arrived say so, before the rest is read. A body not all there within
`timeout` seconds is refused (REQUEST_TIMEOUT, 408) with the connection closed: a slow
sender keeps neither a request slot nor its connection.
"""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive

from gateway.http.refusal import Refusal

__all__ = ["read_body", "replay_body"]


async def read_body(
    receive: Receive, headers: dict[bytes, bytes], *, max_bytes: int, timeout: float | None
) -> bytes:
    """The whole body from `receive`; `headers` are the request's, names lower-cased."""
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    try:
        async with asyncio.timeout(timeout):
            return await _receive_body(receive, max_bytes)
    except TimeoutError:
        raise Refusal(
            408,
            "REQUEST_TIMEOUT",
            f"The request body did not arrive within {timeout:g}s; send it whole, without pauses.",
            close=True,
        ) from None


async def _receive_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _too_large(max_bytes: int) -> Refusal:
    return Refusal(413, "REQUEST_TOO_LARGE", f"The request body is larger than {max_bytes} bytes.")


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands the already-read body to the app once."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
