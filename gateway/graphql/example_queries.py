"""The services' example operations: what GraphiQL opens with, checked when the schema is built.

A service may give `Service(example_query=...)`, an operation showing what it offers (the
users service shows users with the orders and payments other services add). Each example is
validated against the schema actually served: one that reads a field no service serves here
(a service deployed without the ones its example reads, or a field since renamed) is left out
with a warning naming its service, so GraphiQL never opens with a query that fails; a
syntax error is the service's bug wherever it runs, and fails the build. Several examples
make one document, in service order, so each needs an operation name of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from graphql import GraphQLError, GraphQLSchema, parse, validate

from gateway.graphql.errors import ServiceConfigurationError
from gateway.graphql.service import Service

__all__ = ["example_document"]

logger = logging.getLogger("gateway")


def example_document(services: Sequence[Service], schema: GraphQLSchema) -> str | None:
    """The services' example operations that are valid here, as one document (None if none)."""
    kept: list[str] = []
    for service in services:
        text = service.example_query
        if not text:
            continue
        try:
            document = parse(text)
        except GraphQLError as error:
            raise ServiceConfigurationError(
                f"Service {service.name!r}: its example_query does not parse: {error.message}"
            ) from None
        candidate = [*kept, text.rstrip("\n") + "\n"]
        alone = validate(schema, document)
        errors = alone or validate(schema, parse("\n".join(candidate)))
        if errors:
            logger.warning(
                "GraphiQL leaves out the example query of service %r: %s%s",
                service.name,
                errors[0].message,
                "" if alone else " (it does not fit beside the others: name each operation)",
            )
            continue
        kept = candidate
    return "\n".join(kept) or None
