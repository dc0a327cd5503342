"""gateway.http.graphiql over HTTP: the page a browser gets at /graphql, its vendored files (checked
against manifest.json), and GraphQL requests on the same path still reaching the API.

The page in a real browser is tests/browser/test_graphiql.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.machinery import SourceFileLoader

import httpx
import pytest
from fastapi import FastAPI

import services
from gateway.app import create_app
from gateway.http.graphiql import STATIC_DIR
from gateway.settings import PROJECT_ROOT
from services.users import EXAMPLE_QUERY
from tests.tokens import app_settings

VENDORED = STATIC_DIR / "graphiql"
MANIFEST = json.loads((VENDORED / "manifest.json").read_text())
LICENCES_WE_SHIP = {"MIT"}
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@asynccontextmanager
async def client_of(app: FastAPI, *, lifespan: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in-process; the page and its files need no lifespan (no database)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        if lifespan:
            async with app.router.lifespan_context(app):
                yield client
        else:
            yield client


def page_references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


# --- the vendored files -------------------------------------------------------------------


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda entry: entry["file"])
def test_vendored_file_matches_its_manifest_sha256_and_has_its_licence_file(
    entry: dict[str, str],
) -> None:
    path = VENDORED / entry["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["licence"] in LICENCES_WE_SHIP
    licence = VENDORED / entry["licence_file"]
    assert licence.is_file()
    assert "Permission is hereby granted" in licence.read_text()  # the MIT licence's text


def test_every_vendored_file_is_in_the_manifest_with_its_package_pinned() -> None:
    on_disk = {
        path.relative_to(VENDORED).as_posix() for path in VENDORED.rglob("*") if path.is_file()
    }
    assert on_disk == {entry["file"] for entry in MANIFEST["files"]} | {"manifest.json"}
    pinned = {(package["package"], package["version"]) for package in MANIFEST["packages"]}
    assert {(entry["package"], entry["version"]) for entry in MANIFEST["files"]} == pinned
    assert all(package["integrity"].startswith("sha512-") for package in MANIFEST["packages"])


def test_the_example_query_graphiql_opens_with_is_the_readme_query() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert re.findall(r"```graphql\n(.*?)```", readme, flags=re.DOTALL)[0] == EXAMPLE_QUERY


# --- the page ---------------------------------------------------------------------------


async def test_a_browser_gets_the_page_and_every_file_it_references_from_the_gateway() -> None:
    app = create_app(app_settings(), services.SERVICES)
    async with client_of(app) as client:
        page = await client.get("/graphql", headers=HTML)
        references = page_references(page.text)
        files = {reference: await client.get(reference) for reference in references}

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert "default-src 'none';" in policy
    assert len([ref for ref in references if not ref.startswith("data:")]) == 8  # 5 js, 3 css
    for reference, response in files.items():
        if reference.startswith("data:"):
            continue
        assert reference.startswith("/graphql/static/"), reference
        assert response.status_code == 200, reference
        expected = "text/css" if reference.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(expected), reference
    assert "://" not in " ".join(references)
    config = re.search(r'id="graphiql-config">(.*?)</script>', page.text, flags=re.DOTALL)
    assert config is not None
    assert json.loads(config.group(1)) == {"endpoint": "/graphql", "defaultQuery": EXAMPLE_QUERY}


async def test_graphql_requests_on_the_page_path_still_reach_the_api(database_url: str) -> None:
    app = create_app(app_settings(database_url=database_url), services.SERVICES)
    async with client_of(app, lifespan=True) as client:
        get = await client.get(
            "/graphql",
            params={"query": "{ __typename }"},
            headers=HTML | {"apollo-require-preflight": "true"},  # CSRF prevention
        )
        post = await client.post("/graphql", json={"query": "{ __typename }"}, headers=HTML)
        persisted = await client.get(
            "/graphql",
            params={"extensions": json.dumps({"persistedQuery": {"version": 1}})},
            headers={"accept": "*/*"},
        )

    for response in (get, post):
        assert response.status_code == 200
        assert response.json() == {"data": {"__typename": "Query"}}
    # An automatic-persisted-query GET carries no `query`: it is the API's, not the page's.
    assert not persisted.headers["content-type"].startswith("text/html")


async def test_no_page_and_no_files_when_graphiql_is_off(database_url: str) -> None:
    app = create_app(app_settings(database_url=database_url, graphiql=False), services.SERVICES)
    async with client_of(app, lifespan=True) as client:
        page = await client.get("/graphql", headers=HTML)
        script = await client.get("/graphql/static/graphiql-page.js")

    assert not page.headers["content-type"].startswith("text/html")
    assert script.status_code == 404


def test_the_vendor_script_pins_what_the_manifest_records() -> None:
    script = PROJECT_ROOT / "scripts" / "vendor-graphiql"
    loader = SourceFileLoader("vendor_graphiql", str(script))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up there
    try:
        loader.exec_module(module)
    finally:
        del sys.modules[loader.name]
    pins = {(pin.package, pin.version) for pin in module.PINS}
    assert pins == {(package["package"], package["version"]) for package in MANIFEST["packages"]}
    assert script.stat().st_mode & 0o111, "scripts/vendor-graphiql is executable"
