"""Which media type a GraphQL answer is written in, from the request's Accept header.

The GraphQL-over-HTTP specification's two: `application/graphql-response+json`, whose status
codes say what happened (400 and no `data` for a request that could not be executed: parse,
validation, variables, limits), and `application/json`, kept for clients that ask only for
it (status 200 for any GraphQL answer, as before the specification).

    negotiate(b"application/graphql-response+json, application/json;q=0.9")
        -> "application/graphql-response+json"
    negotiate(None) -> "application/json"       # no Accept: the legacy type
    negotiate(b"*/*") -> "application/json"     # a browser's fetch(): the legacy type too
    negotiate(b"text/html") -> None             # nothing satisfies it: 406

RequestGuard negotiates once per GraphQL request and leaves the choice in the scope
(`MEDIA_TYPE_KEY`) for every layer that answers after it.
"""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["GRAPHQL_RESPONSE", "JSON", "MEDIA_TYPE_KEY", "media_type_of", "negotiate"]

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MEDIA_TYPE_KEY = "gateway.media_type"
# Streamed answers (incremental delivery, subscriptions) are Strawberry's to negotiate.
_STREAMS = ("multipart/mixed", "text/event-stream")
_MAX_RANGES = 32  # an Accept header is a handful of ranges; the rest is not read


def negotiate(accept: bytes | None) -> str | None:
    """The media type to answer in, or None when the Accept header allows neither."""
    if accept is None or not accept.strip():
        return JSON
    graphql_q, json_q, wildcard_q, streams = _qualities(accept.decode("latin-1"))
    if graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE
    if json_q > 0 or wildcard_q > 0:
        return JSON
    return JSON if streams else None


def media_type_of(scope: Scope) -> str:
    """The media type negotiated for this request (JSON when nothing negotiated it)."""
    media_type: str = scope.get(MEDIA_TYPE_KEY, JSON)
    return media_type


def _qualities(accept: str) -> tuple[float, float, float, bool]:
    """The q of application/graphql-response+json and of application/json (each by its
    most specific range), of the wildcards alone, and whether a stream type is accepted."""
    exact: dict[str, float] = {}
    application = wildcard = -1.0
    streams = False
    for media_range in accept.split(",")[:_MAX_RANGES]:
        name, _, parameters = media_range.partition(";")
        name = name.strip().lower()
        q = _quality(parameters)
        if name == "*/*":
            wildcard = max(wildcard, q)
        elif name == "application/*":
            application = max(application, q)
        elif name in (GRAPHQL_RESPONSE, JSON):
            exact[name] = max(exact.get(name, -1.0), q)
        elif name in _STREAMS and q > 0:
            streams = True
    fallback = application if application >= 0 else wildcard
    graphql_q = exact.get(GRAPHQL_RESPONSE, -1.0)
    json_q = exact.get(JSON, fallback)
    return graphql_q, json_q, max(fallback, 0.0), streams


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
