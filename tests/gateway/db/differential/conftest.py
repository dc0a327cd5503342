"""The differential suite: each scenario runs once on the real pgdbm 0.5.0 and once on
gateway.db, and the two runs' return values, tracking rows and error types are compared.

A test takes `library` (parametrized: the pgdbm module, then gateway.db) when one run is
enough to check a property both must have, or `both` (the two modules together) when it
compares their outcomes directly.
"""

from __future__ import annotations

from types import ModuleType

import pgdbm
import pytest

from gateway import db as gateway_db

LIBRARIES = {"pgdbm": pgdbm, "gateway.db": gateway_db}


@pytest.fixture(params=list(LIBRARIES))
def library(request: pytest.FixtureRequest) -> ModuleType:
    """pgdbm, then gateway.db: the same test body runs on each."""
    return LIBRARIES[request.param]


@pytest.fixture
def both() -> tuple[ModuleType, ModuleType]:
    """(pgdbm, gateway.db), to run one scenario on each and compare."""
    return pgdbm, gateway_db
