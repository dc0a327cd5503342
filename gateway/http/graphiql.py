"""GraphiQL from the package itself: the page browsers get at GET /graphql, and its files.

Every file the page loads (React, ReactDOM, GraphiQL and its explorer plugin) is vendored in
`gateway/http/static/graphiql/` by `scripts/vendor-graphiql`, whose `manifest.json` records each
file's package, version, sha256 and licence; so GraphiQL works without internet access. The
page's Content-Security-Policy lets it load and call nothing but this server.

Only a browser's page request is matched (a GET that accepts HTML and carries no `query` or
`extensions` parameter); every other request on the path goes on to the GraphQL router.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["STATIC_DIR", "add_graphiql"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Styles stay 'unsafe-inline': GraphiQL's editors set style attributes as they render.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>GraphiQL · GraphQL gateway</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{static}/graphiql/graphiql/graphiql.min.css">
    <link rel="stylesheet" href="{static}/graphiql/plugin-explorer/style.css">
    <link rel="stylesheet" href="{static}/graphiql-page.css">
    <script type="application/json" id="graphiql-config">{config}</script>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="{static}/graphiql/react/react.production.min.js"></script>
    <script src="{static}/graphiql/react-dom/react-dom.production.min.js"></script>
    <script src="{static}/graphiql/graphiql/graphiql.min.js"></script>
    <script src="{static}/graphiql/plugin-explorer/index.umd.js"></script>
    <script src="{static}/graphiql-page.js"></script>
  </body>
</html>
"""


def add_graphiql(app: FastAPI, *, path: str = "/graphql", default_query: str | None = None) -> None:
    """Serve GraphiQL to browsers at `path` and its files under `path`/static/.

    The editor opens with `default_query` (the services' examples), or with GraphiQL's own
    welcome text when it is None. Call it before the GraphQL router is included, so the page
    route is tried first. Usage: `add_graphiql(app, path="/graphql", default_query=...)`.
    """
    shown = {} if default_query is None else {"defaultQuery": default_query}

    async def page(request: Request) -> HTMLResponse:
        prefix = request.scope.get("root_path", "") + path
        config = json.dumps({"endpoint": prefix, **shown})
        html = _PAGE.format(
            static=f"{prefix}/static",
            # A JSON block ends at the first "</script", whatever the JSON says.
            config=config.replace("<", "\\u003c"),
        )
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
            },
        )

    app.router.routes.append(_BrowserPageRoute(path, page, name="graphiql"))
    app.mount(f"{path}/static", StaticFiles(directory=STATIC_DIR), name="graphiql-static")


class _BrowserPageRoute(Route):
    """A GET route that matches a browser's page request only (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: str) -> None:
        super().__init__(path, endpoint, methods=["GET"], name=name)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in {"GET", "HEAD"}:
            return Match.NONE, {}
        accept = Headers(scope=scope).get("accept", "")
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "query" in params or "extensions" in params:
            return Match.NONE, {}
        if "text/html" not in accept and "*/*" not in accept:
            return Match.NONE, {}
        return super().matches(scope)
