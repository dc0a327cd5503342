"""Cache flood: the gateway's resident size while it is sent 10,000 distinct large documents.

    .venv/bin/python -m benchmarks.cache_flood [--documents 10000] [--concurrency 4]
                                               [--warmup 2000] [--users 20] [--output DIR]

Every document is valid, different from every other (its operation name and the ids it
asks for), ~990 tokens and ~5 KB (under the default token and length limits, 13 root fields
of which 10 aliased, no repeated selection), and is sent once with its APQ hash, so each
one lands in all four caches of query texts: parsed documents, validation results, plans
and persisted documents. Seeds a small data set (on DATABASE_URL, an empty database, or an
embedded PostgreSQL), starts the gateway contender alone as a uvicorn process (every request
carries the contender's admin bearer token: the documents ask for admin-only fields), and
samples its RSS every second. The verdict compares the RSS when the last document was
answered with the RSS once --warmup documents were (the caches fill within the first
hundred): FLAT when within 10 %. Writes cache_flood.md and cache_flood.json (every sample)
to --output (benchmarks/results).

Every answer must be a 200 without GraphQL errors; a failed request voids the run (status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from graphql.language import Lexer, Source, TokenKind

from benchmarks import run as harness
from benchmarks.contenders import CONTENDERS, REFERENCE
from benchmarks.database import SeedSize, seeded_database
from benchmarks.environment import machine, software
from benchmarks.rss import Sample, sampling_rss
from benchmarks.servers import Server, running_servers
from gateway.http.persisted import sha256_hex

__all__ = ["FloodRun", "Options", "flood_document", "main", "run", "verdict"]

GROWTH_LIMIT = 0.10  # issue 13: resident size flat within 10 % after the warm-up
SAMPLE_INTERVAL = 1.0  # seconds
MIB = 1024 * 1024
FAILURE_EXAMPLES = 5
PACKAGES = {"Strawberry": "strawberry-graphql", "graphql-core": "graphql-core"}

_PAGE = "pageInfo { hasNextPage endCursor __typename }"
_PAYMENTS = (
    "payments(first: 1) { nodes { id amount currency status createdAt __typename "
    f"order {{ id status total createdAt __typename }} }} {_PAGE} }}"
)
_USER = (
    "{ id email name createdAt __typename orders(first: 1) { nodes { id status total "
    f"createdAt __typename {_PAYMENTS} user {{ id name email createdAt __typename }} }} "
    f"{_PAGE} }} }}"
)
_ORDER = (
    "{ id status total createdAt __typename user { id email name createdAt __typename "
    f"orders(first: 1) {{ nodes {{ id total status }} {_PAGE} }} }} {_PAYMENTS} }}"
)


def flood_document(index: int) -> str:
    """Document number `index`: valid, ~990 tokens, unlike any other index's."""
    fields = [
        f"user(id: {index}) {_USER}",
        f"order(id: {index}) {_ORDER}",
        f"users(first: 1) {{ nodes {_USER} {_PAGE} }}",
    ]
    for alias in range(10):
        entity = f"{index * 10 + alias}"
        if alias % 2:
            fields.append(f"o{alias}: order(id: {entity}) {_ORDER}")
        else:
            fields.append(f"u{alias}: user(id: {entity}) {_USER}")
    return "\n".join([f"query Flood{index} {{", *fields, "}"])


def flood_body(index: int) -> dict[str, object]:
    """The request for document `index`: the document and its APQ hash (registered)."""
    document = flood_document(index)
    return {
        "query": document,
        "operationName": f"Flood{index}",
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}},
    }


@dataclass(frozen=True, kw_only=True)
class Options:
    """What to run; `main()` builds it from the command line."""

    documents: int = 10_000
    concurrency: int = 4
    warmup: int = 2_000  # documents answered before growth is measured
    users: int = 20
    output: Path = harness.DEFAULT_OUTPUT
    database_url: str | None = None
    command: str = "python -m benchmarks.cache_flood"


@dataclass(frozen=True)
class Progress:
    """How many documents had been answered `seconds` after sampling started."""

    seconds: float
    answered: int


@dataclass(frozen=True, kw_only=True)
class FloodRun:
    """What was run and what was seen."""

    date: str
    command: str
    machine: str
    software: str
    documents: int
    document_chars: int
    document_tokens: int
    concurrency: int
    warmup: int
    elapsed: float
    answered: int
    failures: int
    failure_examples: list[str]
    samples: list[Sample]
    progress: list[Progress] = field(default_factory=list)

    def sample_at(self, answered: int) -> Sample:
        """The first sample taken once `answered` documents were answered."""
        when = next((p.seconds for p in self.progress if p.answered >= answered), None)
        if when is None:
            return self.samples[-1]
        return next((s for s in self.samples if s.seconds >= when), self.samples[-1])

    @property
    def growth(self) -> float:
        """The RSS change from the end of the warm-up to the end, as a fraction."""
        return self.samples[-1].rss / self.sample_at(self.warmup).rss - 1


def verdict(flood: FloodRun) -> str:
    """One line: INVALID (a request failed), FLAT or NOT FLAT."""
    if flood.failures:
        return f"INVALID: {flood.failures:,} request(s) failed; the figures describe a sick run."
    word = "FLAT" if abs(flood.growth) <= GROWTH_LIMIT else "NOT FLAT"
    peak = max(flood.samples, key=lambda s: s.rss)
    return (
        f"{word}: the resident size changed by {flood.growth * 100:+.1f} % from document "
        f"{flood.warmup:,} to document {flood.answered:,} (limit {GROWTH_LIMIT * 100:g} %); "
        f"its peak was {peak.rss / MIB:,.1f} MiB."
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _flood(
    server: Server, options: Options, samples: list[Sample], started: float
) -> tuple[int, int, list[str], list[Progress]]:
    """Send every document once from `concurrency` workers; answered, failed, examples."""
    next_index = 0
    answered = failures = 0
    examples: list[str] = []
    progress: list[Progress] = []
    timeout = httpx.Timeout(120.0)
    limits = httpx.Limits(max_connections=options.concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index, answered, failures
        while next_index < options.documents:
            index, next_index = next_index, next_index + 1
            try:
                response = await client.post(server.url, json=flood_body(index))
                body = response.json()
                ok = response.status_code == 200 and not body.get("errors")
                problem = f"{response.status_code} {response.text[:300]}"
            except (httpx.HTTPError, ValueError) as error:
                ok, problem = False, repr(error)
            if ok:
                answered += 1
            else:
                failures += 1
                if len(examples) < FAILURE_EXAMPLES:
                    examples.append(problem)
            done = answered + failures
            if done % 50 == 0 or done == options.documents:
                progress.append(Progress(time.monotonic() - started, done))
            if done % 1000 == 0:
                rss = samples[-1].rss / MIB if samples else 0.0
                _log(f"{done:,}/{options.documents:,} documents, RSS {rss:.1f} MiB")

    headers = dict(server.contender.headers)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=headers) as client:
        await asyncio.gather(*(worker(client) for _ in range(options.concurrency)))
    return answered, failures, examples, progress


async def run(options: Options) -> FloodRun:
    """Run the flood and write cache_flood.md and cache_flood.json; returns what was seen."""
    started_at = datetime.now(UTC)
    options.output.mkdir(parents=True, exist_ok=True)
    gateway = next(c for c in CONTENDERS if c.key == REFERENCE)
    async with AsyncExitStack() as stack:
        if options.database_url is None:
            _log("Starting an embedded PostgreSQL ...")
        database = await stack.enter_async_context(
            seeded_database(options.database_url, SeedSize(options.users))
        )
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-logs-")))
        servers = stack.enter_context(running_servers([gateway], database.url, 4, log_dir))
        server = servers[gateway.key]
        _log(f"Gateway listening on port {server.port} (pid {server.process.pid})")
        started = time.monotonic()
        async with sampling_rss(server.process.pid, interval=SAMPLE_INTERVAL) as samples:
            answered, failures, examples, progress = await _flood(server, options, samples, started)
        elapsed = time.monotonic() - started
        if server.process.poll() is not None:
            raise RuntimeError(f"The gateway exited during the flood:\n{server.log_tail()}")
        version = await database.server_version()
    sample = flood_document(options.documents)
    lexer = Lexer(Source(sample))
    tokens = 0
    while lexer.advance().kind != TokenKind.EOF:
        tokens += 1
    flood = FloodRun(
        date=started_at.strftime("%Y-%m-%d %H:%M UTC"),
        command=options.command,
        machine=machine(),
        software=software(
            version,
            embedded=options.database_url is None,
            workers="1 worker",
            packages=PACKAGES,
        ),
        documents=options.documents,
        document_chars=len(sample),
        document_tokens=tokens,
        concurrency=options.concurrency,
        warmup=min(options.warmup, options.documents),
        elapsed=elapsed,
        answered=answered,
        failures=failures,
        failure_examples=examples,
        samples=list(samples),
        progress=progress,
    )
    _write_report(options.output / "cache_flood.md", flood)
    _write_json(options.output / "cache_flood.json", flood)
    _log(f"{verdict(flood)}\nWrote cache_flood.md and cache_flood.json in {options.output}")
    return flood


def _mib(sample: Sample) -> str:
    return f"{sample.rss / MIB:,.1f} MiB (at {sample.seconds:.0f} s)"


def _write_report(path: Path, flood: FloodRun) -> None:
    peak = max(flood.samples, key=lambda s: s.rss)
    lines = [
        "# Gateway cache flood",
        "",
        f"- Date: {flood.date}",
        f"- Command: `{flood.command}`",
        f"- Machine: {flood.machine}",
        f"- Software: {flood.software}",
        f"- Documents: {flood.documents:,} distinct, valid, each sent once with its APQ hash "
        f"(~{flood.document_chars:,} characters, {flood.document_tokens} tokens)",
        f"- Concurrency: {flood.concurrency}; {flood.elapsed:.0f} s",
        f"- Requests: {flood.answered:,} answered, {flood.failures:,} failed",
        "",
        "| when | resident size |",
        "|---|---:|",
        f"| before the flood | {_mib(flood.samples[0])} |",
        f"| after {flood.warmup:,} documents (warm-up) | {_mib(flood.sample_at(flood.warmup))} |",
        f"| after {flood.answered:,} documents | {_mib(flood.samples[-1])} |",
        f"| peak | {_mib(peak)} |",
        "",
        f"**Verdict** {verdict(flood)}",
        "",
    ]
    if flood.failure_examples:
        lines += ["Failures:", "", *(f"- `{e}`" for e in flood.failure_examples), ""]
    path.write_text("\n".join(lines))


def _write_json(path: Path, flood: FloodRun) -> None:
    data = asdict(flood)
    data["valid"] = flood.failures == 0
    data["verdict"] = verdict(flood)
    data["growth"] = flood.growth
    data["after_warmup"] = asdict(flood.sample_at(flood.warmup))
    path.write_text(json.dumps(data, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cache_flood", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--documents", type=int, default=Options.documents)
    parser.add_argument("--concurrency", type=int, default=Options.concurrency)
    parser.add_argument(
        "--warmup", type=int, default=Options.warmup, help="documents before growth is measured"
    )
    parser.add_argument("--users", type=int, default=Options.users, help="seed size")
    parser.add_argument("--output", type=Path, default=Options.output)
    args = parser.parse_args(argv)
    if args.documents < 1 or args.concurrency < 1 or args.users < 1:
        parser.error("--documents, --concurrency and --users must be positive")
    if not 0 <= args.warmup < args.documents:
        parser.error("--warmup must be at least 0 and fewer than --documents")
    options = Options(
        documents=args.documents,
        concurrency=args.concurrency,
        warmup=args.warmup,
        users=args.users,
        output=args.output,
        database_url=os.environ.get("DATABASE_URL") or None,
        command=shlex.join(["python", "-m", "benchmarks.cache_flood", *(argv or sys.argv[1:])]),
    )
    flood = asyncio.run(run(options))
    return 1 if flood.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
