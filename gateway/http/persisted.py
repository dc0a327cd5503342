"""Persisted operations: Apollo's automatic persisted queries (APQ), or an allow-list.

A client names a document by its SHA-256 in `extensions.persistedQuery` (POST body, or the
`extensions` query parameter of a GET) instead of sending it. `Settings.persisted_queries`:

    off        a request carrying `persistedQuery` fails: PERSISTED_QUERY_NOT_SUPPORTED
    apq        a hash alone runs the document registered under it, else fails with
               PERSISTED_QUERY_NOT_FOUND; the client then sends document and hash, which
               runs and registers it (after checking the hash: PERSISTED_QUERY_HASH_MISMATCH)
    allowlist  only the manifest's documents run, by hash or by their exact text; anything
               else fails with PERSISTED_QUERY_NOT_ALLOWED, and nothing is registered

The manifest (`Settings.persisted_manifest`) is GraphQL Code Generator's persisted-documents
JSON with `hashAlgorithm: "sha256"`: `{"<sha256 of the document>": "<document>"}`. In apq
mode its documents are known from the start too. Registered documents live in an LRU cache
of the app bounded in bytes (gateway.execution.byte_cache) and, once a store is attached at
startup, in a table every process over the database shares (gateway.http.persisted_store):
a hash registered through one worker runs on all of them. A client whose hash is unknown
everywhere just sends the document once more.

    persisted = PersistedQueries.from_settings(settings)
    persisted.store = SharedDocuments(...)                  # optional, at startup
    resolved = await persisted.resolve(query, extensions)   # raises a PersistedQueryError
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse

from gateway.execution.byte_cache import (
    DEFAULT_CACHE_BYTES,
    TEXT_BYTES_PER_CHAR,
    ByteBoundedLRU,
    CacheShares,
    estimated_bytes,
)
from gateway.graphql.errors import GatewayError

if TYPE_CHECKING:
    from gateway.http.persisted_store import SharedDocuments
    from gateway.settings import Settings

__all__ = [
    "PersistedMode",
    "PersistedQueries",
    "PersistedQueryError",
    "PersistedQueryHashMismatch",
    "PersistedQueryNotAllowed",
    "PersistedQueryNotFound",
    "PersistedQueryNotSupported",
    "ResolvedQuery",
    "load_manifest",
    "persisted_mode",
    "sha256_hex",
]

PersistedMode = Literal["off", "apq", "allowlist"]
_MODES = get_args(PersistedMode)
# Bytes of registered documents kept per app (their estimated size), least recently used
# dropped: the persisted share of Settings.cache_bytes.
DEFAULT_CACHE_BYTES_SHARE = CacheShares.split(DEFAULT_CACHE_BYTES).persisted

_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(GatewayError):
    """Base of the refusals of a persisted-operation request; each has its own code."""

    code = "BAD_USER_INPUT"


class PersistedQueryNotFound(PersistedQueryError):
    """Raised when a hash alone names no registered document (send the document with it)."""

    code = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryNotSupported(PersistedQueryError):
    """Raised when a request uses persisted queries and they are turned off."""

    code = "PERSISTED_QUERY_NOT_SUPPORTED"


class PersistedQueryNotAllowed(PersistedQueryError):
    """Raised in allow-list mode for a document (or hash) the manifest does not hold."""

    code = "PERSISTED_QUERY_NOT_ALLOWED"


class PersistedQueryHashMismatch(PersistedQueryError):
    """Raised when a request's document does not hash to the sha256Hash sent with it."""

    code = "PERSISTED_QUERY_HASH_MISMATCH"


def persisted_mode(value: str) -> PersistedMode:
    """`value` as a mode, or ValueError saying which values there are."""
    if value in _MODES:
        return cast(PersistedMode, value)
    raise ValueError(
        f"GATEWAY_PERSISTED_QUERIES is {value!r}; use off, apq (the default) or allowlist."
    )


def sha256_hex(document: str) -> str:
    """The SHA-256 of `document`'s UTF-8 bytes, in lowercase hex (APQ's and the manifest's)."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """A persisted-documents manifest, each key checked to be its document's SHA-256.

    Raises ValueError naming the file and what is wrong with it.
    """
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"Cannot read the persisted-documents manifest {path}: {error}") from None
    except ValueError as error:
        raise ValueError(f"The persisted-documents manifest {path} is not JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ValueError(
            f"The persisted-documents manifest {path} must be a JSON object "
            '{"<sha256>": "<document>"}.'
        )
    for key, document in manifest.items():
        if not isinstance(document, str):
            raise ValueError(f"{path}: the document under {key!r} is not a string.")
        if key != sha256_hex(document):
            raise ValueError(
                f"{path}: key {key[:16]!r}... is not the SHA-256 of its document; generate "
                "the manifest with GraphQL Code Generator's persistedDocuments "
                "{hashAlgorithm: 'sha256'}."
            )
    return manifest


@dataclass(frozen=True)
class ResolvedQuery:
    """The document to run, and the hash to register it under once it validates (APQ)."""

    query: str | None
    register_as: str | None = None


class PersistedQueries:
    """One app's persisted operations: the manifest, the APQ cache (a bounded LRU), and the
    store the processes share (`store`, None until the app's startup attaches one).

    Usage: `PersistedQueries("apq")`, or `PersistedQueries.from_settings(settings)`.
    """

    def __init__(
        self,
        mode: PersistedMode,
        manifest: Mapping[str, str] | None = None,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES_SHARE,
    ) -> None:
        if mode == "allowlist" and manifest is None:
            raise ValueError(
                "Persisted queries in allowlist mode need a manifest: set "
                "GATEWAY_PERSISTED_MANIFEST to the persisted-documents JSON file."
            )
        self.mode = mode
        self.manifest = dict(manifest or {})
        self._registered = ByteBoundedLRU[str, str](max_bytes=cache_bytes)
        self.store: SharedDocuments | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedQueries:
        """The persisted operations `settings` ask for (the manifest is read now)."""
        path = settings.persisted_manifest
        return cls(
            settings.persisted_queries,
            load_manifest(path) if path else None,
            cache_bytes=CacheShares.split(settings.cache_bytes).persisted,
        )

    def operation_names(self) -> set[str]:
        """The names of the manifest's operations (raises ValueError on a broken document)."""
        names = set()
        for key, document in self.manifest.items():
            try:
                parsed = parse(document)
            except GraphQLSyntaxError as error:
                raise ValueError(
                    f"The persisted document {key[:16]}... does not parse: {error.message}"
                ) from None
            for definition in parsed.definitions:
                if isinstance(definition, OperationDefinitionNode) and definition.name:
                    names.add(definition.name.value)
        return names

    async def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None
    ) -> ResolvedQuery:
        """The document a request runs, given its `query` and `extensions`.

        Raises a PersistedQueryError (each with its code) when the request may not run.
        """
        persisted = (extensions or {}).get("persistedQuery")
        if self.mode == "off":
            if persisted is not None:
                raise PersistedQueryNotSupported("PersistedQueryNotSupported")
            return ResolvedQuery(query)
        sha = _requested_hash(persisted) if persisted is not None else None
        if self.mode == "allowlist":
            return ResolvedQuery(self._allowed(query, sha))
        if sha is None:
            return ResolvedQuery(query)
        if query is None:
            known = self.manifest.get(sha) or await self._lookup(sha)
            if known is None:
                raise PersistedQueryNotFound("PersistedQueryNotFound")
            return ResolvedQuery(known)
        _check_hash(query, sha)
        return ResolvedQuery(query, register_as=sha)

    async def register(self, sha: str, query: str) -> None:
        """Keep `query` under `sha` (already checked to be its hash), dropping the oldest,
        here and in the shared store."""
        if self.mode != "apq":
            return
        if sha in self._registered:
            return  # registered before: the store has it (or had no room for it)
        self._remember(sha, query)
        if self.store is not None:
            await self.store.put(sha, query)

    async def _lookup(self, sha: str) -> str | None:
        known = self._registered.get(sha)
        if known is None and self.store is not None:
            known = await self.store.get(sha)
            if known is not None and sha256_hex(known) == sha:  # a row is only trusted hashed
                self._remember(sha, known)
            else:
                known = None
        return known

    def _remember(self, sha: str, query: str) -> None:
        self._registered.put(sha, query, size=estimated_bytes(len(query), TEXT_BYTES_PER_CHAR))

    def _allowed(self, query: str | None, sha: str | None) -> str | None:
        if query is None:
            if sha is None:
                return None  # no document at all: Strawberry answers "No GraphQL query found"
            if sha not in self.manifest:
                raise PersistedQueryNotAllowed(
                    "This operation is not in the allow-list of persisted operations."
                )
            return self.manifest[sha]
        if sha is not None:
            _check_hash(query, sha)
        if sha256_hex(query) not in self.manifest:
            raise PersistedQueryNotAllowed(
                "Only persisted operations may run here, and this document is not one of them."
            )
        return query


def _requested_hash(persisted: object) -> str:
    if not isinstance(persisted, dict):
        raise PersistedQueryError("extensions.persistedQuery must be an object.")
    if persisted.get("version") != 1:
        raise PersistedQueryError("Only version 1 of persisted queries is supported.")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha.lower()):
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in hexadecimal."
        )
    return sha.lower()


def _check_hash(query: str, sha: str) -> None:
    if sha256_hex(query) != sha:
        raise PersistedQueryHashMismatch(
            "The document's SHA-256 does not match extensions.persistedQuery.sha256Hash."
        )
