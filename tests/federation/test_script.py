"""`./scripts/federation`, as the README runs it: the project's own set-up, the npm packages,
the subgraphs and the router, the router's URL and an admin token printed; SIGTERM stops
the whole cluster."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import httpx
import psutil

from gateway.settings import PROJECT_ROOT
from tests.gateway_process import free_port
from tests.tokens import TEST_SECRET

STARTUP_LIMIT = 120.0  # seconds: three subgraphs, a composition and a Node router


def test_the_script_serves_the_services_through_the_router_until_sigterm(
    federation_packages: None, database_url: str
) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("GATEWAY_")}
    env |= {"DATABASE_URL": database_url, "GATEWAY_JWT_SECRET": TEST_SECRET}
    script = subprocess.Popen(
        [str(PROJECT_ROOT / "scripts" / "federation"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(script.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        router = f"http://127.0.0.1:{port}/graphql"
        announced = f"Router (Hive Gateway): {router}"
        # The router's line, then the script's token (the subgraphs' own come before it).
        while not re.search(re.escape(announced) + r'.*"Bearer [^"]+"', "".join(lines), re.S):
            assert script.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        token = re.findall(r'"Bearer ([^"]+)"', output.split(announced, 1)[1])[0]
        tree = [script.pid, *(child.pid for child in psutil.Process(script.pid).children(True))]

        answer = httpx.post(
            router,
            json={"query": "{ users(first: 1) { nodes { name orders { nodes { total } } } } }"},
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.json() == {"data": {"users": {"nodes": []}}}  # a fresh database

        script.send_signal(signal.SIGTERM)
        assert script.wait(timeout=60) == 0
        assert not [pid for pid in tree if psutil.pid_exists(pid) and _alive(pid)]
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
        reader.join(timeout=10)
        if script.stdout is not None:
            script.stdout.close()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
