"""ByteBoundedLRU: a least-recently-used cache bounded by the bytes its entries hold.

Every cache keyed by a client's query text (parsed documents, validation results, plans,
persisted documents) holds one of these, so ten thousand distinct large documents cost the
same memory as a hundred: the oldest entries go first. An entry's size is estimated by its
caller (`estimated_bytes`: the query's tokens or characters times a factor measured for
what the entry holds), never measured object by object.

    documents = ByteBoundedLRU[str, DocumentNode](max_bytes=16 * MIB)
    size = estimated_bytes(token_count(document.loc, fallback=len(query)), DOCUMENT_BYTES_PER_TOKEN)
    documents.put(query, document, size=size)
    documents.get(query)  # the document, now the most recently used; None if dropped

`CacheShares.split(total)` divides the one setting (`Settings.cache_bytes`,
GATEWAY_CACHE_BYTES) between the four caches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from graphql.language import Location, Token

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DOCUMENT_BYTES_PER_TOKEN",
    "ENTRY_OVERHEAD_BYTES",
    "PLAN_BYTES_PER_TOKEN",
    "TEXT_BYTES_PER_CHAR",
    "ByteBoundedLRU",
    "CacheShares",
    "estimated_bytes",
    "token_count",
]

MIB = 1024 * 1024
DEFAULT_CACHE_BYTES = 64 * MIB

# What an entry holds, measured with tracemalloc (benchmarks.cache_flood --measure, and
# tests/gateway/test_byte_cache.py, which fails when an estimate falls below the real size).
# Per token, not per character: a parsed document keeps every token (graphql-core's
# locations link them all), so `{a{b}}` costs far more per character than pretty-printed
# text. Measured: 430-460 bytes per token for a document (5-character to 1-character
# tokens), 220-300 for a plan; the estimates round up.
DOCUMENT_BYTES_PER_TOKEN = 500
PLAN_BYTES_PER_TOKEN = 320
TEXT_BYTES_PER_CHAR = 4  # a str of non-Latin-1 text: the "valid" mark's key, an APQ document
ENTRY_OVERHEAD_BYTES = 400  # the dict slot, the key's header, the entry's tuple

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def estimated_bytes(units: int, bytes_per_unit: int) -> int:
    """What an entry of `units` tokens (or characters) holds, at `bytes_per_unit` each."""
    return ENTRY_OVERHEAD_BYTES + units * bytes_per_unit


def token_count(loc: Location | None, *, fallback: int) -> int:
    """The tokens from `loc`'s first to its last (a walk of graphql-core's token list,
    linear, done once per entry); `fallback` when the node was parsed without locations."""
    if loc is None:
        return fallback
    count = 1
    token: Token | None = loc.start_token
    while token is not None and token is not loc.end_token:
        count += 1
        token = token.next
    return count


class ByteBoundedLRU(Generic[K, V]):
    """Entries by key, their estimated sizes summing to at most `max_bytes`.

    An entry larger than the whole budget is not kept at all. Not thread-safe: it is used
    from the event loop only.
    """

    def __init__(self, *, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes is {max_bytes}; a cache's budget cannot be negative.")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        """The estimated size of every entry held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The value under `key`, marked most recently used; None when it is not held."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, *, size: int) -> None:
        """Keep `value` under `key` (estimated at `size` bytes), dropping the least recently
        used entries until the rest fit."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        if size > self.max_bytes:
            return
        self._entries[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self._bytes = 0


@dataclass(frozen=True, kw_only=True)
class CacheShares:
    """How `Settings.cache_bytes` is divided between the four caches of query texts.

    Each share is proportional to what its entry for a typical document holds (about five
    characters a token), so every cache keeps about the same documents: a document is
    parsed, validated and planned together, and keeping its plan longer than its parse
    would save nothing. Of 64 MiB: 37.2 MiB documents, 23.8 plans, 1.5 each for validation
    marks and persisted documents.
    """

    documents: int
    validations: int
    plans: int
    persisted: int

    @classmethod
    def split(cls, total: int) -> CacheShares:
        """`total` bytes divided in proportion to the factors above."""
        text_per_token = 5 * TEXT_BYTES_PER_CHAR
        factors = (DOCUMENT_BYTES_PER_TOKEN, text_per_token, PLAN_BYTES_PER_TOKEN, text_per_token)
        whole = sum(factors)
        documents, validations, plans, persisted = (total * f // whole for f in factors)
        return cls(documents=documents, validations=validations, plans=plans, persisted=persisted)
