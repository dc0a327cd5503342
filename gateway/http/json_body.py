"""The JSON a GraphQL request carries, checked before any parser recurses into it.

- A JSON body must be UTF-8 (INVALID_UTF8), JSON (INVALID_JSON), one object: an array is a
  batch (BATCHING_NOT_SUPPORTED), anything else BAD_REQUEST.
- JSON nested deeper than `max_depth`, in a body or in a GET's `variables` and `extensions`
  parameters, is refused (JSON_TOO_DEEP) before it is parsed (gateway.http.json_depth).

A body that is not JSON (multipart, ...) is left to Strawberry's view to judge.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from gateway.http.json_depth import nests_deeper_than
from gateway.http.refusal import Refusal

__all__ = ["check_query_parameters", "json_object"]


def json_object(body: bytes, content_type: str, max_depth: int) -> dict[str, Any] | None:
    """The body's JSON object, refused unless it is one; None if the body is not JSON."""
    if "json" not in content_type.lower():
        return None  # multipart and others are Strawberry's to judge
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "INVALID_UTF8", "The request body is not valid UTF-8.") from None
    if nests_deeper_than(body, max_depth):
        raise _too_deep("The request body", max_depth)
    try:
        payload = json.loads(text)
    except ValueError:
        raise Refusal(400, "INVALID_JSON", "The request body is not valid JSON.") from None
    if isinstance(payload, list):
        raise Refusal(
            400,
            "BATCHING_NOT_SUPPORTED",
            "Batched requests (a JSON array) are not supported; send one operation.",
        )
    if not isinstance(payload, dict):
        raise Refusal(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return payload


def check_query_parameters(query_string: bytes, max_depth: int) -> None:
    """Refuse a GET whose `variables` or `extensions` (JSON, parsed by Strawberry) nest
    too deep."""
    if b"[" not in query_string and b"{" not in query_string and b"%" not in query_string:
        return  # no bracket, not even an escaped one
    params = parse_qs(query_string.decode("latin-1"))
    for name in ("variables", "extensions"):
        for value in params.get(name, ()):
            if nests_deeper_than(value, max_depth):
                raise _too_deep(f"The `{name}` parameter", max_depth)


def _too_deep(what: str, max_depth: int) -> Refusal:
    return Refusal(
        400, "JSON_TOO_DEEP", f"{what} nests arrays and objects more than {max_depth} levels deep."
    )
