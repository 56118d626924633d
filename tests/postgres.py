"""The PostgreSQL server the Dagster instance tests use: a fresh database per test, the
instance's dagster.yaml (docker/'s, copied as is), and the server's own counters."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import ROOT

# the server the tests use: DAGSTER_PG_HOST/PORT/USER when set, else this project's machines' one
HOST = os.environ.get("DAGSTER_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("DAGSTER_PG_PORT", "5432"))
USER = os.environ.get("DAGSTER_PG_USER", "postgres")
DAGSTER_YAML = ROOT / "docker" / "dagster.yaml"


@dataclass(frozen=True, slots=True)
class Database:
    """One test's database on the server, and the DAGSTER_PG_* variables that point at it."""

    name: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": HOST,
            "DAGSTER_PG_PORT": str(PORT),
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": self.name,
        }

    def rows(self, table: str) -> int:
        """Rows of one of the instance's tables (runs, event_logs, ...) on the server."""
        with _connect(self.name) as connection:
            quoted = connection.dialect.identifier_preparer.quote(table)
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {quoted}")).scalar_one())

    def counters(self) -> tuple[int, int]:
        """(transactions committed, rows inserted) in this database, as the server counts
        (backends report them within seconds, not at once)."""
        with _connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = :name"
                ),
                {"name": self.name},
            ).one()
        return int(row[0]), int(row[1])


@contextlib.contextmanager
def _connect(database: str = "postgres") -> Iterator[sa.Connection]:
    """A database on the server, autocommit (CREATE/DROP DATABASE need it)."""
    engine = sa.create_engine(
        f"postgresql+psycopg2://{USER}@{HOST}:{PORT}/{database}",
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
        connect_args={"connect_timeout": 3},
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _unreachable() -> str | None:
    try:
        with _connect():
            return None
    except sa.exc.OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]


def _run(statement: str, database: str) -> None:
    with _connect() as connection:
        quoted = connection.dialect.identifier_preparer.quote(database)
        connection.execute(sa.text(statement.format(quoted)))


@contextlib.contextmanager
def fresh_database() -> Iterator[Database]:
    """A new, empty database, dropped afterwards (connections still open are cut). Skips the
    test where no server is reachable, except on CI, which must run it."""
    problem = _unreachable()
    if problem is not None:
        reason = f"no PostgreSQL server on {HOST}:{PORT} ({problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI runs the PostgreSQL instance tests")
        pytest.skip(reason)
    database = Database(f"ownlens_test_{uuid.uuid4().hex[:12]}")
    _run("CREATE DATABASE {}", database.name)
    try:
        yield database
    finally:
        _run("DROP DATABASE IF EXISTS {} WITH (FORCE)", database.name)


def dagster_home(directory: Path) -> Path:
    """A DAGSTER_HOME holding docker/dagster.yaml itself: the deployment's instance."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_YAML, directory / "dagster.yaml")
    return directory
