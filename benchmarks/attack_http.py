"""A minimal HTTP/1.1 client on asyncio streams for the attack run's victim and attackers.

Like the load generator's (benchmarks/loadgen.py), it costs the client little CPU on a
machine it shares with the server; unlike it, every exchange has a timeout and an answer
is returned, not judged: the caller decides what a refusal or an error means.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Answer", "exchange", "graphql_request", "health_request", "open_stream"]

CONNECT_TIMEOUT = 5.0  # seconds; a server out of file descriptors never accepts


@dataclass(frozen=True)
class Answer:
    """A response: its status, its body's size, and the GraphQL error codes in it."""

    status: int
    size: int
    has_data: bool
    codes: tuple[str, ...]
    closes: bool  # the server said `Connection: close`

    @property
    def code(self) -> str:
        """One label for the report: the first error code, else `ok` or `HTTP <status>`."""
        if self.codes:
            return self.codes[0]
        return "ok" if self.status == 200 else f"HTTP {self.status}"


def graphql_request(
    host: str, port: int, body: str, headers: Sequence[Sequence[str]] = ()
) -> bytes:
    """A POST /graphql of `body` (JSON) with `headers` (name, value pairs) as bytes."""
    payload = body.encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n{extra}"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def health_request(host: str, port: int, path: str = "/health/live") -> bytes:
    """A GET of a health route that asks the server to close the connection after it."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()


async def open_stream(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection, or TimeoutError/OSError within CONNECT_TIMEOUT."""
    async with asyncio.timeout(CONNECT_TIMEOUT):
        return await asyncio.open_connection(host, port, limit=1 << 20)


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> Answer:
    """Send `request`, read the whole answer (Content-Length or chunked) and summarize it.

    Raises asyncio.IncompleteReadError or ConnectionError when the server hangs up."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.read()  # until the server closes
    codes: tuple[str, ...] = ()
    has_data = status == 200
    if b'"errors"' in body:
        codes, has_data = _errors(body)
    return Answer(status, len(body), has_data, codes, headers.get(b"connection") == b"close")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _errors(body: bytes) -> tuple[tuple[str, ...], bool]:
    """The distinct error codes in a GraphQL answer, and whether it holds data too."""
    try:
        answer = json.loads(body)
    except ValueError:
        return ("UNPARSABLE_ANSWER",), False
    if not isinstance(answer, dict):
        return ("UNPARSABLE_ANSWER",), False
    errors = answer.get("errors")
    codes: list[str] = []
    for error in errors if isinstance(errors, list) else ():
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(code if isinstance(code, str) else "NO_CODE")
    return tuple(dict.fromkeys(codes)), answer.get("data") is not None
