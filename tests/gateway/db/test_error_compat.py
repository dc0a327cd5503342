"""gateway.db's errors take pgdbm 0.5.0's arguments, so that code raising or inspecting
them (`ConnectionError(host=..., port=...)`, `QueryError(query=..., params=...)`) works with
the import line changed; compared with the real pgdbm's classes."""

from __future__ import annotations

import pgdbm
import pgdbm.errors

from gateway import db


def test_connection_error_takes_pgdbms_keywords_into_its_details() -> None:
    ours = db.ConnectionError("unreachable", host="db", port=5432, database="shop", attempts=3)
    theirs = pgdbm.errors.ConnectionError(
        "unreachable", host="db", port=5432, database="shop", attempts=3
    )

    assert (
        ours.details
        == theirs.details
        == {
            "host": "db",
            "port": 5432,
            "database": "shop",
            "attempts": 3,
        }
    )
    assert str(ours).startswith("unreachable")
    assert str(theirs).startswith("unreachable")


def test_query_error_takes_pgdbms_arguments_and_masks_params_as_it_does() -> None:
    secret = "a-long-secret-value-of-thirty-chars"
    ours = db.QueryError("refused", "SELECT $1, $2", (7, secret), ValueError("x"))
    theirs = pgdbm.errors.QueryError("refused", "SELECT $1, $2", (7, secret), ValueError("x"))

    assert ours.details["params"] == theirs.details["params"] == (7, "<str:35 chars>")
    assert ours.query == "SELECT $1, $2"
    # Unlike pgdbm, the message never carries the SQL or the parameters (a deliberate
    # difference: str(error) may reach a user); they are on the exception.
    assert "SELECT" not in str(ours)
    assert secret not in str(ours)
    assert secret not in repr(ours.details)


def test_migration_error_takes_pgdbms_keywords() -> None:
    ours = db.MigrationError("failed", migration_file="001_init.sql", version="001", sql_error="e")
    theirs = pgdbm.errors.MigrationError(
        "failed", migration_file="001_init.sql", version="001", sql_error="e"
    )

    for key in ("migration_file", "version", "sql_error"):
        assert ours.details[key] == theirs.details[key]


def test_every_error_class_pgdbm_exports_is_importable_from_gateway_db() -> None:
    names = [
        name
        for name in dir(pgdbm.errors)
        if isinstance(getattr(pgdbm.errors, name), type)
        and issubclass(getattr(pgdbm.errors, name), Exception)
    ]

    assert "QueryError" in names
    missing = [name for name in names if not hasattr(db, name)]
    assert missing == []
