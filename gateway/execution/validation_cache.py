"""ValidationCache's replacement: valid query texts remembered in a byte-bounded LRU, and
field merging bounded (gateway.limits.field_merging) for the texts validated.

Strawberry's ValidationCache keeps 512 results by count, each holding its document through
the cache key; ours keeps only "this text is valid with these rules" (an invalid text is
validated again when it comes back: its validation is bounded, and keeping its errors would
keep its whole document alive), sized by the text's length.

    validated = ValidatedTexts(max_bytes=shares.validations)
    extensions = [..., lambda: BoundedValidation(validated=validated)]
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gateway.compat import graphql_schema
from gateway.execution.byte_cache import TEXT_BYTES_PER_CHAR, ByteBoundedLRU, estimated_bytes
from gateway.graphql.error_codes import mark_validation_errors
from gateway.limits.field_merging import with_bounded_field_merging

__all__ = ["BoundedValidation", "ValidatedTexts"]

ValidatedKey = tuple[tuple[type[ASTValidationRule], ...], str]


class ValidatedTexts(ByteBoundedLRU[ValidatedKey, bool]):
    """Query texts known to be valid, with the rules they were validated with."""


class BoundedValidation(SchemaExtension):
    """Validate with BoundedFieldMerging, at most once per valid query text."""

    def __init__(self, *, validated: ValidatedTexts) -> None:
        self.validated = validated

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            rules = with_bounded_field_merging(context.validation_rules)
            key = (rules, context.query) if context.query is not None else None
            if key is not None and self.validated.get(key):
                context.pre_execution_errors = []
            else:
                errors = validate_document(graphql_schema(context.schema), document, rules)
                mark_validation_errors(errors)  # coded where it is known they are validation's
                context.pre_execution_errors = errors
                if key is not None and not errors:
                    size = estimated_bytes(len(key[1]), TEXT_BYTES_PER_CHAR)
                    self.validated.put(key, True, size=size)
        yield
