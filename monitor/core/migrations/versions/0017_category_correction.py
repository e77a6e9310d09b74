"""A moderator's correction of a queue item's categories: who and when (the machine keeps off it)

Revision ID: 0017_category_correction
Revises: 0013_assignment
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.core.tables

revision = "0017_category_correction"
down_revision = "0013_assignment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_item") as batch:
        batch.add_column(sa.Column("category_corrected_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("category_corrected_at", monitor.core.tables.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_item") as batch:
        batch.drop_column("category_corrected_at")
        batch.drop_column("category_corrected_by")
