"""Migration files on disk: discovery, order, checksums, and how each file must run.

Files are discovered as pgdbm discovers them (every `*.sql` in the folder but hidden ones; a
missing folder has none), checksummed as pgdbm does, and ordered by their number
(`2_b.sql` before `10_a.sql`, where pgdbm's plain name order would run 10 first).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.db.errors import MigrationError
from gateway.db.sqlsplit import split_statements

__all__ = [
    "Migration",
    "checksum_of",
    "discover_migrations",
    "has_statements",
    "is_transaction_control",
    "needs_no_transaction",
    "raw_checksum_of",
]

logger = logging.getLogger("gateway.db.migrations")

_NUMBERED = re.compile(r"^(?P<num>\d+)_")
_FLYWAY = re.compile(r"^V(?P<num>\d+)__")
# A file's own BEGIN/COMMIT are dropped: the whole file already runs in one transaction.
# Matched against the statement's code, so a comment line above `COMMIT;` does not hide it
# (executed, it would commit half the file early).
_TRANSACTION_CONTROL = re.compile(
    r"(?:BEGIN|START\s+TRANSACTION)(?:\s+(?:WORK|TRANSACTION))?"
    r"(?:\s+(?:ISOLATION|READ|NOT|DEFERRABLE)\b.*)?"
    r"|(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+NO\s+CHAIN)?",
    re.IGNORECASE | re.DOTALL,
)
# Statements PostgreSQL refuses inside a transaction block; a file holding one runs without
# a transaction. Matched against code only: a comment or string that says "concurrently"
# must not cost a file its atomicity.
_NEEDS_NO_TRANSACTION = re.compile(
    r"^(?!REFRESH\b).*\bCONCURRENTLY\b"
    r"|^(?:VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|CREATE\s+TABLESPACE"
    r"|DROP\s+TABLESPACE|REINDEX\s+(?:SYSTEM|DATABASE))\b",
    re.IGNORECASE | re.DOTALL,
)
# `-- pgdbm:no-transaction` (pgdbm's, at the start of a line) or `-- gateway:no-transaction`:
# the file runs statement by statement without a transaction (ALTER TYPE ... ADD VALUE,
# then a statement using the value, must).
_NO_TRANSACTION_MARKER = re.compile(
    r"^--\s*(?:gateway|pgdbm):no-transaction(?=\s|$)", re.IGNORECASE | re.MULTILINE
)
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass
class Migration:
    """One migration file, and when it was applied (None while pending)."""

    filename: str
    checksum: str
    content: str
    applied_at: datetime | None = None
    module_name: str | None = None
    execution_time_ms: float | None = None

    @property
    def is_applied(self) -> bool:
        return self.applied_at is not None

    def model_dump(self) -> dict[str, Any]:
        """pgdbm's Migration is a pydantic model: its fields as a dict, as it gives them."""
        return {
            "filename": self.filename,
            "checksum": self.checksum,
            "content": self.content,
            "applied_at": self.applied_at,
            "module_name": self.module_name,
        }

    @property
    def version(self) -> str:
        """The number in front: `001` for `001_create_users.sql`, `1` for `V1__init.sql`,
        the name without `.sql` for a file without one (as pgdbm's)."""
        match = _NUMBERED.match(self.filename) or _FLYWAY.match(self.filename)
        if match is None:
            return self.filename.split(".")[0]
        return match.group("num")

    @property
    def order(self) -> tuple[int, int, str]:
        """Numbered files by number, then Flyway's `V1__` by number, then the rest by name:
        pgdbm's name order for the groups, numbers compared as numbers within each."""
        if match := _NUMBERED.match(self.filename):
            return (0, int(match.group("num")), self.filename)
        if match := _FLYWAY.match(self.filename):
            return (1, int(match.group("num")), self.filename)
        return (2, 0, self.filename)

    @property
    def runs_in_transaction(self) -> bool:
        """False when the file says `-- pgdbm:no-transaction` or holds a statement that
        PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY, VACUUM)."""
        if _NO_TRANSACTION_MARKER.search(self.content):
            return False
        return not any(needs_no_transaction(s) for s in split_statements(self.content))


def discover_migrations(folder: Path, module_name: str) -> list[Migration]:
    """Every migration file in `folder`, in the order they apply; none when it is missing."""
    if not folder.is_dir():
        logger.warning(
            "Migrations directory %r does not exist (module %r): nothing to apply",
            str(folder),
            module_name,
        )
        return []
    root = folder.resolve()
    found = []
    for path in folder.glob("*.sql"):
        if path.name.startswith(".") or not path.is_file():
            continue
        # A symlink pointing out of the folder would run a file nobody reviewed as a migration.
        if not path.resolve().is_relative_to(root):
            raise MigrationError(
                f"Migration file {str(path)!r} is outside the migrations directory "
                f"{str(root)!r}; copy it in instead of linking to it.",
                migration_file=str(path),
            )
        content = path.read_text(encoding="utf-8")
        # module_name stays None on a file, as pgdbm's: it is set on applied records only.
        found.append(Migration(filename=path.name, checksum=checksum_of(content), content=content))
    found.sort(key=lambda migration: migration.order)
    return found


def has_statements(content: str) -> bool:
    """Whether the file holds any SQL beyond comments and blank lines (pgdbm refuses an
    empty file)."""
    return any(_code_of(statement) for statement in split_statements(content))


def checksum_of(content: str) -> str:
    """A migration file's checksum, as pgdbm computes it: sha256 of the text with CRLF line
    ends made LF and the whole stripped, so an editor's line ends change nothing."""
    return hashlib.sha256(content.replace("\r\n", "\n").strip().encode("utf-8")).hexdigest()


def raw_checksum_of(content: str) -> str:
    """The checksum gateways before pgdbm's normalisation recorded: sha256 of the raw text."""
    return hashlib.sha256(content.encode()).hexdigest()


def is_transaction_control(statement: str) -> bool:
    """Whether `statement` is a BEGIN/COMMIT of the file's own (dropped when it runs)."""
    return bool(_TRANSACTION_CONTROL.fullmatch(_code_of(statement)))


def needs_no_transaction(statement: str) -> bool:
    """Whether PostgreSQL refuses `statement` inside a transaction block."""
    return bool(_NEEDS_NO_TRANSACTION.search(_code_of(statement)))


def _code_of(statement: str) -> str:
    """`statement` without comments, and with quoted text and dollar-quoted bodies blanked.

    For classifying a statement only (transaction control, needs no transaction); never run.
    """
    out: list[str] = []
    i, n = 0, len(statement)
    while i < n:
        char = statement[i]
        if statement.startswith("--", i):
            newline = statement.find("\n", i)
            i = n if newline == -1 else newline + 1
            out.append(" ")
        elif statement.startswith("/*", i):
            depth = 0
            while i < n:
                if statement.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif statement.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            out.append(" ")
        elif char in ("'", '"'):
            end = i + 1
            while end < n:
                if statement[end] == char:
                    if statement.startswith(char * 2, end):
                        end += 2
                        continue
                    break
                end += 1
            i = end + 1
            out.append(f"{char}{char}")
        elif char == "$" and (tag := _DOLLAR_TAG.match(statement, i)):
            end = statement.find(tag.group(0), tag.end())
            i = n if end == -1 else end + len(tag.group(0))
            out.append("$$$$")
        else:
            out.append(char)
            i += 1
    return " ".join("".join(out).split())
