"""Assign a queue item to a moderator

Revision ID: 0013_assignment
Revises: 0013_saved_filter
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_assignment"
down_revision = "0013_saved_filter"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_item") as batch:
        batch.add_column(sa.Column("assigned_to_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_queue_item_assigned_to_id_user", "user", ["assigned_to_id"], ["id"])
        batch.create_index("ix_queue_item_assigned_to_id", ["assigned_to_id"])


def downgrade() -> None:
    with op.batch_alter_table("queue_item") as batch:
        batch.drop_index("ix_queue_item_assigned_to_id")
        batch.drop_constraint("fk_queue_item_assigned_to_id_user", type_="foreignkey")
        batch.drop_column("assigned_to_id")
