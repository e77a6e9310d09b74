"""Engine and session factory; migrations run through Alembic (`monitor db upgrade`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import DatabaseSettings, mask_url
from monitor.core.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that every transaction starts with
    # BEGIN IMMEDIATE: a writer takes the lock up front, which is what makes claims exclusive.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _scrub_detail(context: Any) -> None:
    """Keep only the first line of a PostgreSQL error: its DETAIL lines quote row values (post text, authors)."""
    orig = context.original_exception
    lines = str(orig).splitlines()
    if len(lines) <= 1:
        return
    first = lines[0]
    wrapped = context.sqlalchemy_exception
    try:
        orig.args = (first,)
        if wrapped is not None:
            wrapped.args = (f"({type(orig).__module__}.{type(orig).__name__}) {first}",)
    except (AttributeError, TypeError):  # a type that refuses new args: parameters at least stay hidden
        return


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain postgresql:// URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def create_db_engine(settings: DatabaseSettings) -> Engine:
    """An engine for the configured URL (SQLite file parent directory created if missing)."""
    url = normalize_url(settings.url)
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"database URL is not valid: {mask_url(settings.url)}") from None
    # hide_parameters: an error or log line never carries row values (post text, authors: minors' data).
    kwargs: dict[str, Any] = {"echo": settings.echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DatabaseError(f"cannot create the database folder {folder}: {e.strerror}") from None
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.update(pool_size=settings.pool_size, max_overflow=settings.pool_size, pool_pre_ping=True)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as e:
        raise DatabaseError(f"cannot use database {mask_url(settings.url)}: {e}") from None
    event.listen(engine, "handle_error", _scrub_detail)
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once; DatabaseError naming the (masked) URL when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        url = mask_url(engine.url.render_as_string(hide_password=False))
        raise DatabaseError(f"cannot connect to database {url}: {reason}") from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read after the transaction)."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back whole on any exception."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Any:
    """An Alembic Config that migrates the given engine."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply migrations up to `revision` (all heads by default)."""
    from alembic import command

    check_connection(engine)
    command.upgrade(alembic_config(engine), revision)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (empty when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    """The newest revisions the code knows."""
    from alembic.script import ScriptDirectory

    cfg = alembic_config(sa.create_engine("sqlite://"))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def require_migrated(engine: Engine) -> None:
    """DatabaseError telling the user to run `monitor db upgrade` when the schema is behind."""
    check_connection(engine)
    if current_revisions(engine) != head_revisions():
        url = mask_url(engine.url.render_as_string(hide_password=False))
        raise DatabaseError(f"database {url} is not migrated to this version: run `monitor db upgrade`")


def downgrade_all(engine: Engine) -> None:
    """Undo every migration (tests and disaster recovery drills)."""
    from alembic import command

    command.downgrade(alembic_config(engine), "base")


# Full-text search objects live only in revision 0013_post_search (FTS5 tables, a functional index),
# not in the table classes: schema comparisons and autogenerate leave them out.
SEARCH_OBJECTS = ("post_fts", "ix_post_text_search")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """False for the migration-only search objects (alembic's include_name hook)."""
    return not (name or "").startswith(SEARCH_OBJECTS)
