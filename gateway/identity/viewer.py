"""Viewer: who sent a request, as its verified token says; ANONYMOUS without one."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ADMIN_ROLE", "ANONYMOUS", "Viewer"]

ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The verified subject, roles and tenant of a request (`info.context.viewer`)."""

    subject: str | None = None
    roles: frozenset[str] = frozenset()
    tenant: str | None = None
    # The token's `exp` (seconds since the epoch): a WebSocket outlives its token, and its
    # subscriptions end when the token does (gateway.subscriptions.live).
    expires_at: float | None = field(default=None, compare=False)

    @property
    def is_anonymous(self) -> bool:
        return self.subject is None

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = Viewer()
