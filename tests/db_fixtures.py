"""Database fixtures (a pytest plugin, registered in tests/conftest.py): the store tests run on SQLite and on
a real PostgreSQL.

- `pg_server` (session): TEST_POSTGRES_URL's server when set (`make test-pg` sets it), else a throw-away
  cluster started here from Debian's binaries (tests/pg_cluster.py). Without the binaries the PostgreSQL
  tests FAIL under CI=true (CI installs postgresql; a silent skip would hide that it did not) and skip
  elsewhere, saying why.
- `db_url` (per test, parametrized `sqlite` / `postgresql`): a fresh empty database's SQLAlchemy URL.
- `pg_url` (per test): a fresh PostgreSQL database only.

Tests using them are marked `db` (`pytest -m db` runs just these); the PostgreSQL ones are also `slow`
(they start a server), like every test that does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.pg_cluster import PgServer, find_bindir, pg_cluster

BACKENDS = ("sqlite", "postgresql")
DB_FIXTURES = {"db_url", "pg_url", "pg_server"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: runs against a real database (SQLite and PostgreSQL)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if not names & DB_FIXTURES:
            continue
        item.add_marker(pytest.mark.db)
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("db_url") if callspec is not None else None
        if backend == "postgresql" or (backend is None and names & {"pg_url", "pg_server"}):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server the tests may create databases on."""
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        yield PgServer.from_url(given)
        return
    bindir = find_bindir()
    if bindir is None:
        reason = (
            "PostgreSQL binaries not found (no initdb/pg_ctl in $PG_BINDIR, pg_config --bindir or "
            "/usr/lib/postgresql/*/bin): apt-get install postgresql, or `make test-pg`"
        )
        if in_ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    with pg_cluster(bindir) as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(str(make_url(url).database))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url"))
