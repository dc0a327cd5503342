"""attack.md and attack.json from one attack run (benchmarks/attack.py).

The table puts the victim's figures alone and beside each attack side by side, with their
ratio; below it, what the server answered each attacker.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["AttackRun", "Scenario", "write_json", "write_report"]

MIB = 1024 * 1024
TITLES = {
    "worst_query": "worst allowed query",
    "flood": "validation flood",
    "slow": "slow clients",
}


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One attack: the victim alone and beside it, and what the attacker saw.

    `alone` and `under_attack` are the victim's results ({"load": ..., "probes": ...}, see
    benchmarks/attack_victim.py), `attack` the attacker's outcome (benchmarks/attackers.py)."""

    name: str
    alone: dict[str, Any]
    under_attack: dict[str, Any]
    attack: dict[str, Any]
    open_files: int  # the server's file descriptors when the victim's attacked phase ended
    rss_before: int  # bytes, when the attack started
    rss_peak: int  # the largest sample while it ran (every 0.5 s)
    rss_after: int  # once the server answered probes promptly again
    log_growth_alone: int  # bytes the server's log grew while the victim ran alone
    log_growth: int  # bytes it grew during the attack (the victim's own lines included)
    settle_seconds: float  # until probes were answered promptly again after the attack


@dataclass(frozen=True, kw_only=True)
class AttackRun:
    """What was run and what was seen."""

    date: str
    command: str
    machine: str
    software: str
    data: str
    seconds: float  # of each phase: the victim alone, then beside the attack
    server_file_limit: int
    settings: list[str]  # GATEWAY_NAME=VALUE given instead of the defaults
    victim: str
    scenarios: list[Scenario]


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _ratio(after: float, before: float) -> str:
    if math.isnan(after) or math.isnan(before) or before <= 0:
        return "n/a"
    return f"x{after / before:,.1f}"


def _errors(load: dict[str, Any]) -> str:
    if not load["errors"]:
        return f"0 of {load['requests']:,}"
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in load["error_kinds"].items())
    return f"{load['errors']:,} of {load['requests']:,} ({kinds})"


def _settings(settings: list[str]) -> str:
    # The key is always set (benchmarks.attack_server): the shop requires a signed-in client.
    key = "the benchmark's `GATEWAY_JWT_SECRET` (the clients send an admin bearer token)"
    given = "".join(f"`{setting}`, " for setting in settings)
    return f"default settings but {given}{'and ' if settings else ''}{key}"


def _row(scenario: Scenario) -> str:
    alone, under = scenario.alone["load"], scenario.under_attack["load"]
    probe_alone, probe_under = scenario.alone["probes"], scenario.under_attack["probes"]
    rss = " -> ".join(
        f"{value / MIB:,.0f}"
        for value in (scenario.rss_before, scenario.rss_peak, scenario.rss_after)
    )
    cells = [
        TITLES[scenario.name],
        f"{_ms(alone['p50_ms'])} -> {_ms(under['p50_ms'])}",
        _ratio(under["p50_ms"], alone["p50_ms"]),
        f"{_ms(alone['p99_ms'])} -> {_ms(under['p99_ms'])}",
        _ratio(under["p99_ms"], alone["p99_ms"]),
        f"{_errors(alone)} / {_errors(under)}",
        f"{_ms(probe_alone['max_ms'])} -> {_ms(probe_under['max_ms'])}",
        f"{probe_under['errors']:,} of {probe_under['requests']:,}",
        rss,
        f"{scenario.open_files:,}",
        f"{scenario.log_growth_alone / 1024:,.0f} -> {scenario.log_growth / 1024:,.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _answers(attack: dict[str, Any]) -> str:
    answers = ", ".join(f"`{code}` {n:,}" for code, n in attack["answers"].items()) or "none"
    extra = []
    if attack["client_timeouts"]:
        extra.append(f"{attack['client_timeouts']:,} unanswered after the client's timeout")
    if attack["broken_connections"]:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in attack["broken_kinds"].items())
        extra.append(f"connections broken mid-request: {kinds}")
    if attack.get("abandoned_in_flight"):
        extra.append(f"{attack['abandoned_in_flight']} still running when the run gave up")
    return "; ".join([answers, *extra])


def _attack_lines(scenario: Scenario) -> list[str]:
    attack = scenario.attack
    if attack["kind"] == "worst_query":
        refusals = ", ".join(f"`{c}` x{n:,}" for c, n in attack["refusal_codes"].items())
        chosen = (
            f"settled on **{attack['chosen']}** ({attack['chosen_values']:,} values on this data)"
            if attack["chosen"]
            else "every candidate was refused"
        )
        lines = [
            f"- {attack['clients']} clients walked the ladder of {attack['ladder_size']} "
            f"candidates: {attack['refused_candidates']} refused ({refusals or 'none'}"
            + (f"; {attack['probes_shed']} probes shed as busy" if attack["probes_shed"] else "")
            + f"), then {chosen}.",
            f"- {attack['requests']:,} requests of it: {_answers(attack)}; "
            f"{attack['received_bytes'] / MIB:,.1f} MiB received; an answer took "
            f"{attack['answer_p50_s']:,.2f} s (median), {attack['answer_max_s']:,.2f} s (max).",
        ]
        if attack["chosen_query"]:
            lines += ["", "```graphql", attack["chosen_query"], "```"]
        return lines
    if attack["kind"] == "flood":
        return [
            f"- {attack['requests']:,} distinct documents of {attack['typenames']} "
            f"`__typename` ({attack['document_bytes']:,} bytes) from {attack['clients']} "
            f"client, {attack['rate_per_s']:,.1f} per second: {_answers(attack)}; an answer "
            f"took {attack['answer_p50_s'] * 1000:,.0f} ms (median).",
        ]
    drops = ", ".join(f"{how} {n:,}" for how, n in attack["drops"].items()) or "none"
    held = attack["held_before_drop_p50_s"]
    return [
        f"- {attack['connections']:,} slow clients (half a head, or a head and half the "
        f"body, one more byte every 5 s): {attack['opened']:,} connections opened "
        f"(reopened after a drop), {attack['connect_failures']:,} connect failures, "
        f"{attack['held_at_stop']:,} still held when the victim finished.",
        f"- Dropped by the server: {attack['dropped']:,} ({drops})"
        + ("." if math.isnan(held) else f", after {held:,.1f} s (median)."),
    ]


def write_report(path: Path, attack_run: AttackRun) -> None:
    """The Markdown report: the header, the victim table, one section per attack."""
    lines = [
        "# The gateway under attack (issue 13)",
        "",
        f"- Date: {attack_run.date}",
        f"- Command: `{attack_run.command}`",
        f"- Machine: {attack_run.machine}",
        f"- Software: {attack_run.software}",
        f"- Data: {attack_run.data}",
        f"- Server: `gateway serve`, {_settings(attack_run.settings)}, open-file limit "
        f"{attack_run.server_file_limit:,}",
        f"- Victim: {attack_run.victim}",
        f"- Each scenario: the victim alone for {attack_run.seconds:g} s, then for "
        f"{attack_run.seconds:g} s beside the attack; a request that timed out counts at the "
        "timeout in the percentiles",
        "",
        "| attack | victim p50 ms alone -> attacked | p50 ratio | victim p99 ms alone -> "
        "attacked | p99 ratio | victim errors alone / attacked | /health/live worst ms "
        "alone -> attacked | probes failed (attacked) | server RSS MiB before -> peak -> "
        "after | server open files (attacked) | log growth KiB alone -> attacked |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        *(_row(scenario) for scenario in attack_run.scenarios),
    ]
    for scenario in attack_run.scenarios:
        lines += ["", f"## {TITLES[scenario.name]}", "", *_attack_lines(scenario)]
        lines.append(
            f"- The server answered probes promptly again {scenario.settle_seconds:,.1f} s "
            "after the attack stopped."
        )
    lines += ["", "Every figure: `attack.json`."]
    path.write_text("\n".join(lines) + "\n")


def write_json(path: Path, attack_run: AttackRun) -> None:
    """Everything the report shows, and the attackers' full outcomes."""
    path.write_text(json.dumps(_finite(asdict(attack_run)), indent=2) + "\n")


def _finite(value: Any) -> Any:
    """`value` with NaN (a percentile of nothing) as null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
