"""Migrations build exactly the schema the table classes describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import monitor.core.tables  # noqa: F401
from monitor.core.db import current_revisions, downgrade_all, head_revisions, include_name, upgrade


def test_migrated_schema_matches_tables(engine):
    assert current_revisions(engine) == head_revisions() and len(head_revisions()) == 1
    with engine.connect() as conn:
        # The search index (FTS5 tables, a functional index) is migration-only (monitor.core.db.include_name).
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(engine):
    downgrade_all(engine)
    assert current_revisions(engine) == set()
    upgrade(engine)
    assert current_revisions(engine) == head_revisions()
