"""CSRF prevention: refuse an operation a browser could send cross-site without a preflight.

A cross-site `<form>` or `fetch()` may send a GET, or a POST with a "simple" Content-Type,
without asking the server first (no CORS preflight), and the browser attaches the user's
cookies. As Apollo Router does, an operation must therefore prove that it was preflighted:
a POST with a non-simple Content-Type (`application/json`), or any request with an
`apollo-require-preflight` or `x-apollo-operation-name` header, or with an `Authorization`
header (not CORS-safelisted either: a browser asks before sending one cross-site). A GET
that runs nothing (GraphiQL's page) passes.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import Scope

from gateway.http.refusal import Refusal

__all__ = ["check_csrf"]

# Content types a cross-site <form> or fetch() may send without a CORS preflight.
_SIMPLE_CONTENT_TYPES = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
_PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name", b"authorization")


def check_csrf(scope: Scope, headers: dict[bytes, bytes]) -> None:
    """Raise CSRF_PREVENTED for a request that could run an operation unpreflighted;
    `headers` are the request's, names lower-cased."""
    if not _runs_an_operation(scope):
        return
    if any(headers.get(name, b"").strip() for name in _PREFLIGHT_HEADERS):
        return
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type not in _SIMPLE_CONTENT_TYPES:
        return
    if scope["method"] == "GET":
        advice = (
            "send it with an `apollo-require-preflight: true` header (urql: `fetchOptions: "
            "{ headers: { 'apollo-require-preflight': 'true' } }`), or as a POST of "
            "Content-Type: application/json (urql: `preferGetMethod: false`)."
        )
    else:
        advice = (
            "send it with Content-Type: application/json, or with an "
            "`apollo-require-preflight: true` header."
        )
    raise Refusal(
        400,
        "CSRF_PREVENTED",
        "This operation has been blocked as a potential cross-site request forgery: " + advice,
    )


def _runs_an_operation(scope: Scope) -> bool:
    if scope["method"] == "POST":
        return True
    if scope["method"] == "GET":
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return "query" in params or "extensions" in params
    return False
