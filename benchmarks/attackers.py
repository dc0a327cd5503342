"""The attack run's three attackers; each runs until `stop` is set, then reports its outcome.

- `worst_query`: `clients` connections walk the ladder (benchmarks/attack_queries.py) from
  the largest answer down, together, until one candidate is not refused by a limit code, then
  send that one in a loop.
- `flood`: `clients` connections send distinct ~5 KB documents of 480 `__typename` in a
  closed loop, as fast as the server answers.
- `slow`: `connections` sockets, half sending a request head that never ends, half a full
  head and half of the body it announced, each trickling one more byte every TRICKLE
  seconds so only a deadline on the whole head or body (not an idle timeout) drops them. A
  dropped one is opened again, as a real slowloris does.

`worst_query` and `flood` send the command's `headers` with every request (the benchmark's
admin bearer token: an account that may read everything). Each attacker sets `ready` once
its attack is under way (for `slow`: every connection was
tried once), so the victim is measured beside the attack at full strength.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.attack_http import Answer, exchange, graphql_request, open_stream
from benchmarks.attack_queries import BUSY_CODES, LIMIT_CODES, flood_body
from benchmarks.attack_victim import percentile

__all__ = ["ATTACKERS", "flood", "slow", "worst_query"]

TRICKLE = 5.0  # seconds between two bytes of a slow client
RECONNECT_DELAY = 0.5  # seconds before an attacker whose connection ended connects again
_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class _Requests:
    """What the server answered an attacker's requests."""

    answers: Counter[str] = field(default_factory=Counter)  # code or `ok` -> count
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    received: int = 0  # body bytes
    client_timeouts: int = 0
    broken: Counter[str] = field(default_factory=Counter)  # connections broken mid-exchange

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.seconds) + self.client_timeouts + sum(self.broken.values()),
            "answers": dict(self.answers.most_common()),
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "received_bytes": self.received,
            "client_timeouts": self.client_timeouts,
            "broken_connections": sum(self.broken.values()),
            "broken_kinds": dict(self.broken),
            "answer_p50_s": percentile(self.seconds, 0.5),
            "answer_max_s": max(self.seconds, default=float("nan")),
        }


async def _send(
    stream: _Stream | None, command: dict[str, Any], body: str, tally: _Requests
) -> tuple[_Stream | None, Answer | None]:
    """One request to the command's server, with its headers; the stream to go on with and
    the answer (None without one)."""
    host, port, timeout = command["host"], command["port"], command["timeout"]
    request = graphql_request(host, port, body, command.get("headers", ()))
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            if stream is None:
                stream = await open_stream(host, port)
            answer = await exchange(*stream, request)
    except TimeoutError:
        tally.client_timeouts += 1
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        tally.broken[type(error).__name__] += 1
    else:
        tally.seconds.append(time.perf_counter() - started)
        tally.statuses[answer.status] += 1
        tally.answers[answer.code] += 1
        tally.received += answer.size
        if answer.closes:
            stream[1].close()
            stream = None
        return stream, answer
    if stream is not None:
        stream[1].close()
    await asyncio.sleep(RECONNECT_DELAY)
    return None, None


@dataclass
class _Ladder:
    """Where the clients are on the ladder: the next candidate, the one the server ran."""

    index: int = 0
    chosen: int | None = None
    refusals: Counter[str] = field(default_factory=Counter)
    refused: set[int] = field(default_factory=set)  # candidates answered with a limit code
    busy: int = 0  # probes the server shed (BUSY_CODES) before the ladder settled


async def worst_query(
    command: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event
) -> dict[str, Any]:
    """Find the largest candidate the server runs, then send it in a loop."""
    ladder: list[dict[str, Any]] = command["ladder"]
    state = _Ladder()
    attack = _Requests()

    async def client() -> None:
        stream: _Stream | None = None
        while not stop.is_set():
            index = state.index
            probing = state.chosen is None
            tally = _Requests() if probing else attack
            stream, answer = await _send(stream, command, ladder[index]["body"], tally)
            if not probing:
                continue
            if answer is not None and (answer.status == 503 or BUSY_CODES & set(answer.codes)):
                state.busy += 1
                await asyncio.sleep(RECONNECT_DELAY)
                continue  # the server shed it: no verdict on the candidate, send it again
            if answer is not None and not answer.has_data and _refusal(answer):
                state.refusals.update(answer.codes or (answer.code,))
                state.refused.add(index)
                if state.index == index and index + 1 < len(ladder):
                    state.index = index + 1  # the other client may have moved on already
                continue
            # Answered without a limit code, or still running at the client's timeout: the
            # server runs this one.
            if state.chosen is None:
                state.chosen = index
            _merge(attack, tally)

    clients = [asyncio.create_task(client()) for _ in range(command["clients"])]
    ready.set()  # the ladder's refusals are part of the attack: the victim starts now
    await stop.wait()
    abandoned = await _drain(clients, command["drain"])
    chosen = state.chosen
    query = json.loads(ladder[chosen]["body"])["query"] if chosen is not None else None
    return {
        "kind": "worst_query",
        "clients": command["clients"],
        "ladder_size": len(ladder),
        "refused_candidates": len(state.refused),
        "refusal_codes": dict(state.refusals),
        "probes_shed": state.busy,
        "chosen": ladder[chosen]["label"] if chosen is not None else None,
        "chosen_values": ladder[chosen]["values"] if chosen is not None else None,
        "chosen_query": query,
        "abandoned_in_flight": abandoned,
        **attack.summary(),
    }


def _refusal(answer: Answer) -> bool:
    """Whether the server refused the document itself: a limit code, or any 4xx."""
    return bool(LIMIT_CODES.intersection(answer.codes)) or 400 <= answer.status < 500


def _merge(into: _Requests, tally: _Requests) -> None:
    into.answers.update(tally.answers)
    into.statuses.update(tally.statuses)
    into.seconds.extend(tally.seconds)
    into.received += tally.received
    into.client_timeouts += tally.client_timeouts
    into.broken.update(tally.broken)


async def flood(
    command: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event
) -> dict[str, Any]:
    """Distinct validation-heavy documents, as fast as the server answers them."""
    numbers = itertools.count()
    tally = _Requests()
    started = time.perf_counter()

    async def client() -> None:
        stream: _Stream | None = None
        while not stop.is_set():
            body = flood_body(next(numbers), command["typenames"])
            stream, _ = await _send(stream, command, body, tally)

    clients = [asyncio.create_task(client()) for _ in range(command["clients"])]
    ready.set()
    await stop.wait()
    abandoned = await _drain(clients, command["drain"])
    elapsed = time.perf_counter() - started
    summary = tally.summary()
    return {
        "kind": "flood",
        "clients": command["clients"],
        "typenames": command["typenames"],
        "document_bytes": len(flood_body(0, command["typenames"])),
        "rate_per_s": summary["requests"] / elapsed if elapsed > 0 else 0.0,
        "abandoned_in_flight": abandoned,
        **summary,
    }


@dataclass
class _Slow:
    opened: int = 0
    connect_failures: int = 0
    held: int = 0
    drops: Counter[str] = field(default_factory=Counter)  # how the server ended it
    held_seconds: list[float] = field(default_factory=list)  # until the server dropped it
    tried: int = 0


def _slow_start(host: str, port: int, slot: int) -> tuple[bytes, bytes]:
    """The bytes a slow client sends first, and the byte it trickles after them."""
    head = f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    if slot % 2 == 0:
        return head.encode(), b"X-Slow: 1\r\n"  # a header line each time: the head never ends
    body = '{"query": "{ __typename }"}'.ljust(2000)
    return f"{head}Content-Length: {len(body)}\r\n\r\n{body[:1000]}".encode(), b" "


async def _hold(stream: _Stream, first: bytes, trickle: bytes, stop: asyncio.Event) -> str | None:
    """Send `first`, then a byte each TRICKLE s, until the server ends it (how) or `stop`."""
    reader, writer = stream
    try:
        writer.write(first)
        await writer.drain()
        while not stop.is_set():
            try:
                async with asyncio.timeout(TRICKLE):
                    data = await reader.read(4096)
            except TimeoutError:
                writer.write(trickle)
                await writer.drain()
                continue
            if not data:
                return "closed"
            return data[:12].decode(errors="replace").strip() or "answered"  # "HTTP/1.1 408"
    except (OSError, asyncio.IncompleteReadError):
        return "reset"
    return None


async def slow(
    command: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event
) -> dict[str, Any]:
    """Hold `connections` half-sent requests open, reopening those the server drops."""
    host, port, count = command["host"], command["port"], command["connections"]
    tally = _Slow()

    async def slot(number: int) -> None:
        await asyncio.sleep(number * command["ramp"] / count)  # do not open all in one tick
        first, trickle = _slow_start(host, port, number)
        tried = False
        while not stop.is_set():
            try:
                stream = await open_stream(host, port)
            except (OSError, TimeoutError):
                tally.connect_failures += 1
                stream = None
            if not tried:
                tried = True
                tally.tried += 1
                if tally.tried == count:
                    ready.set()
            if stream is None:
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            tally.opened += 1
            tally.held += 1
            since = time.perf_counter()
            try:
                ended = await _hold(stream, first, trickle, stop)
            finally:
                tally.held -= 1
                stream[1].close()
            if ended is not None:
                tally.drops[ended] += 1
                tally.held_seconds.append(time.perf_counter() - since)
                await asyncio.sleep(RECONNECT_DELAY)  # then reconnect, as a slowloris does

    slots = [asyncio.create_task(slot(number)) for number in range(count)]
    await stop.wait()
    held_at_stop = tally.held
    for task in slots:
        task.cancel()
    await asyncio.gather(*slots, return_exceptions=True)
    return {
        "kind": "slow",
        "connections": count,
        "opened": tally.opened,
        "connect_failures": tally.connect_failures,
        "held_at_stop": held_at_stop,
        "dropped": sum(tally.drops.values()),
        "drops": dict(tally.drops.most_common()),
        "held_before_drop_p50_s": percentile(tally.held_seconds, 0.5),
        "held_before_drop_min_s": min(tally.held_seconds, default=float("nan")),
    }


async def _drain(tasks: list[asyncio.Task[None]], limit: float) -> int:
    """Let requests in flight finish for up to `limit` s; how many were abandoned."""
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return len(pending)


ATTACKERS = {"worst_query": worst_query, "flood": flood, "slow": slow}
