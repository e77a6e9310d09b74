"""service: job_run (run once per interval across processes), digest_run retry/period columns

Revision ID: 0007_service
Revises: 0001
Create Date: 2026-11-29 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.core.tables

revision = "0007_service"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("slot_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "slot_at", name="uq_job_run_job_slot"),
    )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_run_job"), ["job"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_run_started_at"), ["started_at"], unique=False)
    with op.batch_alter_table("digest_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("list_name", sa.String(length=100), nullable=False, server_default="default")
        )
        batch_op.add_column(sa.Column("period_end_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_run", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("period_end_at")
        batch_op.drop_column("list_name")
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_run_started_at"))
        batch_op.drop_index(batch_op.f("ix_job_run_job"))
    op.drop_table("job_run")
