"""Database fixtures: every `sessions` test runs on SQLite and, when MONITOR_TEST_DATABASE_URL is
set, on a private PostgreSQL database created for this test session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, normalize_url, session_factory, upgrade

# CI explores the same examples on every run (a red CI then means the change, not a new random draw);
# a developer's `make test` keeps exploring new ones. Either way the example counts stay bounded.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PG_ENV = "MONITOR_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database private to this pytest run (skips without one)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(DatabaseSettings(url=url))
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _truncate_pg(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database URL: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "monitor.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_server_url")
    engine = create_db_engine(DatabaseSettings(url=url))
    _truncate_pg(engine)
    engine.dispose()
    return url


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Default settings pointing at the test database."""
    return Settings(database=DatabaseSettings(url=db_url))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on the test database."""
    engine = create_db_engine(DatabaseSettings(url=db_url))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Session factory on the test database."""
    return session_factory(engine)


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    """A clean PostgreSQL database (PostgreSQL-only tests)."""
    engine = create_db_engine(DatabaseSettings(url=pg_server_url))
    _truncate_pg(engine)
    engine.dispose()
    return pg_server_url
