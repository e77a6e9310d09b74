"""discovery: source_suggestion (admins' decisions on suggested sources)

Revision ID: 0016_discovery
Revises: 0009_vocab
Create Date: 2026-12-02 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.core.tables

revision = "0016_discovery"
down_revision = "0009_vocab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("flagged_posts", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "handle", name="uq_source_suggestion_platform_handle"),
    )


def downgrade() -> None:
    op.drop_table("source_suggestion")
