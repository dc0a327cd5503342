"""`gateway token` and the development secret, through real processes: the token it prints
is accepted by `gateway serve` started with the same environment, whose own output holds a
ready admin token; production refuses to start without a key."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import asyncpg
import httpx

from gateway.settings import PROJECT_ROOT
from tests.gateway_process import GATEWAY, GatewayProcess
from tests.tokens import TEST_SECRET

ME = {"query": "{ me { id name } }"}


def _gateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_printed_token_and_the_served_admin_token_are_accepted(
    database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "GATEWAY_DATA_DIR": str(tmp_path / "pgdata")}
    printed = _gateway(env, "token", "--sub", "1", "--role", "admin", "--ttl", "600")
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip().splitlines()[-1]
    secret_file = tmp_path / "jwt-secret"
    assert secret_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    secret = secret_file.read_text()

    server = GatewayProcess(env)
    try:
        await asyncio.to_thread(server.wait_until_ready)
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "INSERT INTO users.users (email, name) VALUES ('ada@example.com', 'Ada')"
            )
        finally:
            await connection.close()
        served = re.search(r'"Authorization": "Bearer ([^"]+)"', server.output)
        assert served, server.output
        async with httpx.AsyncClient(timeout=10) as client:
            answers = [
                await client.post(server.url, json=ME, headers={"authorization": f"Bearer {t}"})
                for t in (token, served.group(1))
            ]
            forged = await client.post(
                server.url, json=ME, headers={"authorization": f"Bearer {token[:-2]}xx"}
            )
    finally:
        server.kill()

    assert [a.json() for a in answers] == [{"data": {"me": {"id": 1, "name": "Ada"}}}] * 2
    assert forged.status_code == 401
    assert token not in server.output  # the printed one; the admin token is printed on purpose
    # The secret is kept between runs, not generated again.
    assert _gateway(env, "token", "--sub", "1").returncode == 0
    assert secret_file.read_text() == secret


def test_production_refuses_to_start_without_a_key_and_with_a_short_secret(
    database_url: str,
) -> None:
    production = {"DATABASE_URL": database_url, "GATEWAY_ENV": "production"}
    keyless = _gateway(production, "serve", "--port", "1")
    short = _gateway(production | {"GATEWAY_JWT_SECRET": "too-short"}, "serve", "--port", "1")
    no_mint = _gateway(production, "token", "--sub", "1")

    assert keyless.returncode == 2
    assert "GATEWAY_JWT_SECRET" in keyless.stderr
    assert "Traceback" not in keyless.stderr + keyless.stdout
    assert short.returncode == 2
    assert "at least 32" in short.stderr
    assert "Traceback" not in short.stderr
    assert no_mint.returncode == 2
    assert "GATEWAY_JWT_SECRET" in no_mint.stderr


def test_production_starts_with_a_long_secret(database_url: str) -> None:
    server = GatewayProcess(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_ENV": "production",
            "GATEWAY_JWT_SECRET": TEST_SECRET,
        }
    )
    try:
        server.wait_until_ready()
        answer = httpx.post(server.url, json=ME, timeout=10).json()
    finally:
        server.kill()

    assert answer == {"data": {"me": None}}
    assert "Bearer" not in server.output  # no token printed in production
