"""A parsed-document cache that, unlike Strawberry's ParserCache, keeps every extension's
hooks running when a parse fails (so a syntax error still gets its error code).

Parsing is about a third of a small request's time; a client sends the same few query texts
again and again, so each text is parsed once per process (bounded, least recently used out).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

__all__ = ["DocumentCache", "ParsedDocuments"]


class ParsedDocuments:
    """Documents by query text, at most `maxsize` of them (shared by every request)."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def get(self, query: str) -> DocumentNode | None:
        document = self._documents.get(query)
        if document is not None:
            self._documents.move_to_end(query)
        return document

    def put(self, query: str, document: DocumentNode) -> None:
        self._documents[query] = document
        self._documents.move_to_end(query)
        if len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)


class DocumentCache(SchemaExtension):
    """Hand Strawberry an already parsed document when the query text was seen before."""

    def __init__(self, *, documents: ParsedDocuments) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            context.graphql_document = self.documents.get(query)  # Strawberry skips parsing
        yield
        if query is not None and context.graphql_document is not None:
            self.documents.put(query, context.graphql_document)
