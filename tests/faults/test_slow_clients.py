"""Slow and idle clients against a real `gateway serve` process (gateway.http.protocol,
gateway.http.server, RequestGuard's body timeout).

Each test talks raw HTTP/1.1 over a socket where a client library would finish the request
for us. Every wait has a bound (`READ_LIMIT`): a server that holds a connection forever fails
the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.faults.support import SLEEPING_STATEMENTS, count, error_codes, wait_until
from tests.gateway_process import GATEWAY, GatewayFactory, GatewayProcess

READ_LIMIT = 15.0  # seconds to wait for the server to answer or hang up; a bound only
QUERY = b'{"query": "{ __typename }"}'


@dataclass
class RawConnection:
    """A TCP connection to the gateway, spoken to byte by byte."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_until_closed(self) -> bytes:
        """Everything the server sends until it closes the connection (fails on a hang)."""
        async with asyncio.timeout(READ_LIMIT):
            return await self.reader.read()

    async def read_response(self) -> Response:
        """One response, read by its Content-Length; the connection may stay open."""
        async with asyncio.timeout(READ_LIMIT):
            head = await self.reader.readuntil(b"\r\n\r\n")
            response = Response.parse_head(head)
            response.body = await self.reader.readexactly(
                int(response.headers.get("content-length", "0"))
            )
        return response


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    @classmethod
    def parse_head(cls, head: bytes) -> Response:
        status_line, *lines = head.decode("latin-1").strip().split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return cls(status=int(status_line.split()[1]), headers=headers)

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        head, _, body = raw.partition(b"\r\n\r\n")
        response = cls.parse_head(head)
        response.body = body
        return response

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.body)
        return body


@asynccontextmanager
async def raw_connection_to(server: GatewayProcess) -> AsyncIterator[RawConnection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield RawConnection(reader, writer)
    finally:
        writer.close()


def post_head(port: int, length: int = len(QUERY)) -> bytes:
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def start_gateway(gateway_process: GatewayFactory, database_url: str, **env: str) -> GatewayProcess:
    return gateway_process({"DATABASE_URL": database_url, "GATEWAY_POOL_MAX": "4", **env})


async def answers_a_query(server: GatewayProcess) -> bool:
    async with httpx.AsyncClient(timeout=READ_LIMIT) as client:
        response = await client.post(server.url, json={"query": "{ __typename }"})
    return response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


async def test_a_client_that_sends_half_a_header_is_disconnected_after_the_header_timeout(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    server = start_gateway(gateway_process, database_url, GATEWAY_HEADER_TIMEOUT="1")

    async with raw_connection_to(server) as half_a_header, raw_connection_to(server) as silent:
        await half_a_header.send(post_head(server.port)[:40])
        served_meanwhile = await answers_a_query(server)
        dropped = await half_a_header.read_until_closed()
        dropped_silent = await silent.read_until_closed()

    assert served_meanwhile
    assert dropped == b""  # closed without an answer: there was no request to answer
    assert dropped_silent == b""


async def test_a_header_sent_a_byte_at_a_time_gets_no_more_time_per_byte(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    # Slowloris: each byte would restart a per-read timer; the deadline is for the head.
    server = start_gateway(gateway_process, database_url, GATEWAY_HEADER_TIMEOUT="1")
    head = post_head(server.port)

    async with raw_connection_to(server) as slow:
        hung_up = asyncio.create_task(slow.read_until_closed())
        sent = 0
        with contextlib.suppress(ConnectionError):
            for byte in head[:-2]:  # never the final CRLF: the head is never complete
                if hung_up.done():
                    break
                await slow.send(bytes([byte]))
                sent += 1
                await asyncio.sleep(0.1)
        remaining = await hung_up

    assert remaining == b""
    assert sent < len(head) - 2  # hung up on before it was done


async def test_a_kept_alive_client_is_served_again_after_a_pause_between_requests(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    # The header deadline starts with a request's first byte, not when the last one ended.
    server = start_gateway(gateway_process, database_url, GATEWAY_HEADER_TIMEOUT="1")

    async with raw_connection_to(server) as client:
        await client.send(post_head(server.port) + QUERY)
        first = await client.read_response()
        await asyncio.sleep(2)  # past the header timeout, within uvicorn's keep-alive (5 s)
        await client.send(post_head(server.port) + QUERY)
        second = await client.read_response()

    assert (first.status, second.status) == (200, 200)


async def test_a_body_that_stops_arriving_gets_a_coded_408_and_the_connection_closed(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    server = start_gateway(gateway_process, database_url, GATEWAY_BODY_TIMEOUT="1")

    async with raw_connection_to(server) as client:
        await client.send(post_head(server.port, length=len(QUERY)) + QUERY[:10])
        raw = await client.read_until_closed()  # returns only once the server hangs up

    response = Response.parse(raw)
    assert response.status == 408, raw
    assert response.headers["connection"] == "close"
    assert error_codes(response.json()) == ["REQUEST_TIMEOUT"]
    assert await answers_a_query(server)


async def test_at_the_connection_limit_idle_sockets_make_room_for_a_real_client(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    # Slowloris at the limit: three sockets that never send a request must not lock out
    # the fourth client; the one that waited longest is closed instead.
    server = start_gateway(
        gateway_process,
        database_url,
        GATEWAY_MAX_CLIENT_CONNECTIONS="3",
        GATEWAY_HEADER_TIMEOUT="60",
    )

    async with (
        raw_connection_to(server) as first,
        raw_connection_to(server) as second,
        raw_connection_to(server) as third,
    ):
        await second.send(post_head(server.port)[:30])  # half a head: waiting, too
        await asyncio.sleep(0.5)  # all three accepted, in this order
        async with raw_connection_to(server) as fourth:
            await fourth.send(post_head(server.port) + QUERY)
            served = await fourth.read_response()
        closed = await first.read_until_closed()
        still_open = not (second.reader.at_eof() or third.reader.at_eof())

    assert served.status == 200
    assert served.json() == {"data": {"__typename": "Query"}}
    assert closed == b""
    assert still_open


async def test_past_the_connection_limit_with_every_connection_busy_a_new_one_is_server_busy(
    gateway_process: GatewayFactory,
    database_url: str,
    migrations_with_test_services: Path,
    raw_connection: asyncpg.Connection,
) -> None:
    server = gateway_process(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_SERVICES": "tests.gateway.extra_service.app:SERVICES",
            "GATEWAY_MIGRATIONS_DIR": str(migrations_with_test_services),
            "GATEWAY_POOL_MAX": "4",
            "GATEWAY_MAX_CLIENT_CONNECTIONS": "3",
        }
    )
    slow = json.dumps({"query": "{ slowReviewCount(seconds: 6) }"}).encode()

    async with (
        raw_connection_to(server) as first,
        raw_connection_to(server) as second,
        raw_connection_to(server) as third,
    ):
        for busy in (first, second, third):
            await busy.send(post_head(server.port, length=len(slow)) + slow)

        async def all_sleeping() -> bool:
            return await count(raw_connection, SLEEPING_STATEMENTS) == 3

        await wait_until(all_sleeping, "three slow requests in progress")
        async with raw_connection_to(server) as fourth:
            await fourth.send(post_head(server.port) + QUERY)
            refused = Response.parse(await fourth.read_until_closed())
        answers = [await busy.read_response() for busy in (first, second, third)]

    assert refused.status == 503
    assert refused.headers["retry-after"] == "1"
    assert error_codes(refused.json()) == ["SERVER_BUSY"]
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert await answers_a_query(server)


async def test_responses_do_not_name_the_server_software(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    server = start_gateway(gateway_process, database_url)

    async with httpx.AsyncClient(timeout=READ_LIMIT) as client:
        response = await client.post(server.url, json={"query": "{ __typename }"})
        health = await client.get(server.url.replace("/graphql", "/health/live"))

    for answer in (response, health):
        assert answer.status_code == 200
        assert "server" not in answer.headers
        assert "date" in answer.headers


async def test_idle_sockets_past_the_file_limit_lock_no_one_out_and_do_not_flood_the_log(
    database_url: str,
) -> None:
    # 250 idle sockets against a process allowed 200 descriptors in all: before, accept()
    # failed with EMFILE (one traceback each time) and no client was served again.
    file_limit = 200
    server = GatewayProcess(
        {"DATABASE_URL": database_url, "GATEWAY_POOL_MAX": "4", "GATEWAY_HEADER_TIMEOUT": "2"},
        command=("prlimit", f"--nofile={file_limit}:{file_limit}", str(GATEWAY), "serve"),
    )
    try:
        await asyncio.to_thread(server.wait_until_ready)
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(250)]
        try:
            # Dropped after the header timeout, or at once past the limit and overflow.
            async with asyncio.timeout(READ_LIMIT):
                for reader, _ in idle:
                    assert await reader.read() == b""
            served_after = await answers_a_query(server)
        finally:
            for _, writer in idle:
                writer.close()
    finally:
        server.kill()

    tail = server.output[-3000:]
    assert served_after, tail
    assert "out of system resource" not in server.output, tail
    assert "Too many open files" not in server.output, tail
    assert "Traceback" not in server.output, tail


async def test_a_flood_of_dropped_connections_logs_ten_lines_not_one_each(
    gateway_process: GatewayFactory, database_url: str
) -> None:
    # The throttle is on the real server's handlers: 30 drops, at most 10 lines a minute.
    server = start_gateway(gateway_process, database_url, GATEWAY_HEADER_TIMEOUT="1")

    silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(30)]
    try:
        async with asyncio.timeout(READ_LIMIT):
            dropped = [await reader.read() for reader, _ in silent]
    finally:
        for _, writer in silent:
            writer.close()
    await asyncio.sleep(0.5)  # the log lines reach the output reader

    assert dropped == [b""] * 30
    assert server.output.count("request head was not complete within 1s") == 10
