"""Alembic environment: migrates the engine handed in by monitor.core.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import monitor.core.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from monitor.core.db import include_name

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
