"""web: partial index that serves the unfiltered open queue page in order

Revision ID: 0004_web_open
Revises: 0004_web
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_web_open"
down_revision = "0004_web"
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('new', 'in_review')")


def upgrade() -> None:
    # Only open items are in it, so the default queue page reads its first 50 rows in index order
    # instead of sorting every open item.
    op.create_index("ix_queue_open_order", "queue_item", ["severity_rank", "created_at", "id"], unique=False,
                    postgresql_where=_OPEN, sqlite_where=_OPEN)


def downgrade() -> None:
    op.drop_index("ix_queue_open_order", table_name="queue_item")
