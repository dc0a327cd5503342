"""A parsed-document cache that, unlike Strawberry's ParserCache, keeps every extension's
hooks running when a parse fails (so a syntax error still gets its error code).

Parsing is about a third of a small request's time; a client sends the same few query texts
again and again, so each text is parsed once per process, and its repeated selections
dropped once (gateway.limits.selection_dedup). The cache is bounded in bytes (byte_cache.py),
least recently used out.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

from gateway.execution.byte_cache import (
    DEFAULT_CACHE_BYTES,
    DOCUMENT_BYTES_PER_TOKEN,
    ByteBoundedLRU,
    CacheShares,
    estimated_bytes,
    token_count,
)
from gateway.limits.selection_dedup import deduplicate_selections

__all__ = ["DocumentCache", "ParsedDocuments"]

_DEFAULT_BYTES = CacheShares.split(DEFAULT_CACHE_BYTES).documents


class ParsedDocuments:
    """Documents by query text, their estimated sizes at most `max_bytes` (shared by every
    request). Usage: `ParsedDocuments(max_bytes=16 * 1024 * 1024)`."""

    def __init__(self, *, max_bytes: int = _DEFAULT_BYTES) -> None:
        self._documents = ByteBoundedLRU[str, DocumentNode](max_bytes=max_bytes)

    @property
    def max_bytes(self) -> int:
        """The budget of the cache."""
        return self._documents.max_bytes

    @property
    def bytes(self) -> int:
        """The estimated size of the documents held now."""
        return self._documents.bytes

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, query: str) -> DocumentNode | None:
        """The document parsed from `query`, if it is still held."""
        return self._documents.get(query)

    def put(self, query: str, document: DocumentNode) -> None:
        """Keep `document`, parsed from `query`, dropping the least recently used ones."""
        tokens = token_count(document.loc, fallback=len(query))
        size = estimated_bytes(tokens, DOCUMENT_BYTES_PER_TOKEN)
        self._documents.put(query, document, size=size)


class DocumentCache(SchemaExtension):
    """Hand Strawberry an already parsed (and deduplicated) document when the query text
    was seen before."""

    def __init__(self, *, documents: ParsedDocuments) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        cached = None
        if query is not None and context.graphql_document is None:
            cached = context.graphql_document = self.documents.get(query)  # no parse then
        yield
        document = context.graphql_document
        if query is not None and document is not None and cached is None:
            context.graphql_document = deduplicate_selections(document)
            self.documents.put(query, context.graphql_document)
