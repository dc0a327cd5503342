"""The attack run's client process: the victim or one attacker, in a process of its own.

    python -m benchmarks.attack_client     # one JSON command on stdin

A process of its own, so neither shares a GIL or an event loop with the other or with the
harness. The command's `role` is `victim` (benchmarks/attack_victim.py: prints one JSON
result after `duration` seconds and exits) or an attacker's name (benchmarks/attackers.py:
prints `{"ready": true}` once the attack is under way, runs until the next line or the end
of stdin, then prints its outcome and exits).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Any

from benchmarks.attack_victim import victim
from benchmarks.attackers import ATTACKERS

__all__: list[str] = []


def _print(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


async def _attack(command: dict[str, Any]) -> dict[str, Any]:
    ready, stop = asyncio.Event(), asyncio.Event()
    attack = asyncio.create_task(ATTACKERS[command["role"]](command, ready, stop))
    await asyncio.wait(
        [attack, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if attack.done():
        return attack.result()  # it failed before it was under way: the error surfaces
    _print({"ready": True})
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stop.set()
    return await attack


async def _main() -> None:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    command: dict[str, Any] = json.loads(line)
    if command["role"] == "victim":
        _print(await victim(command))
    else:
        _print(await _attack(command))


if __name__ == "__main__":
    # A slow-client attack holds a thousand sockets: lift the soft limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main())
