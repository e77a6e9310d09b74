"""digest_run.message_id: the Message-ID of the last send, so an ambiguous SMTP timeout is never resent

Revision ID: 0011_delivery
Revises: 0015_media
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_delivery"
down_revision = "0015_media"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_run") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_run") as batch:
        batch.drop_column("message_id")
