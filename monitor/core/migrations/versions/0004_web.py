"""web: indexes for the queue page's region and category filters

Revision ID: 0004_web
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0004_web"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The district filter already has ix_queue_district; these cover the other common filters.
    op.create_index("ix_queue_region", "queue_item", ["region", "status"], unique=False)
    op.create_index("ix_queue_category", "queue_item", ["category", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_queue_category", table_name="queue_item")
    op.drop_index("ix_queue_region", table_name="queue_item")
