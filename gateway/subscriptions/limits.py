"""SubscriptionLimits: what one process allows over WebSockets (GATEWAY_WS_* variables).

per_connection  subscriptions open at once on one connection; the next gets an error
connections     WebSocket connections per process; past it the upgrade is refused (403)
message_bytes   the largest message a client may send; larger closes with 1009
queue           events waiting per subscriber; past it the oldest is dropped and the
                subscriber told EVENTS_MISSED (gateway.subscriptions.subscriber)
init_timeout    seconds for connection_init after the upgrade, then closed with 4408
ping_interval   seconds between the server's pings; a client that does not answer
ping_timeout    within this many seconds is closed (a dead peer frees its slot)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["SubscriptionLimits"]


@dataclass(frozen=True, kw_only=True)
class SubscriptionLimits:
    """Bounds on WebSocket connections and their subscriptions."""

    per_connection: int = 20
    connections: int = 500
    message_bytes: int = 64 * 1024
    queue: int = 100
    init_timeout: float = 10.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            if getattr(self, spec.name) <= 0:
                raise ValueError(f"GATEWAY_WS_{spec.name.upper()} must be above 0.")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SubscriptionLimits:
        """GATEWAY_WS_PER_CONNECTION, GATEWAY_WS_CONNECTIONS, ...; defaults for the rest."""
        values: dict[str, float | int] = {}
        for spec in fields(cls):
            raw = env.get(f"GATEWAY_WS_{spec.name.upper()}")
            if raw is not None:
                values[spec.name] = float(raw) if spec.type == "float" else int(raw)
        return cls(**values)  # type: ignore[arg-type]
