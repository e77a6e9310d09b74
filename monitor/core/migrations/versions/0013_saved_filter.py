"""Saved queue filters per user

Revision ID: 0013_saved_filter
Revises: 0013_post_search
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.core.tables import UTCDateTime

revision = "0013_saved_filter"
down_revision = "0013_post_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_saved_filter_user_name"),
    )
    op.create_index("ix_saved_filter_user_id", "saved_filter", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_saved_filter_user_id", "saved_filter")
    op.drop_table("saved_filter")
