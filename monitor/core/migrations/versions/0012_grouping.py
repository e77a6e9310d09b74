"""grouping: why a post joined (post.join_*), updates since decision and merges (queue_item), corrections

Revision ID: 0012_grouping
Revises: 0011_delivery
Create Date: 2026-12-02 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.core.tables
from monitor.core.vocab import ALERT_REASONS, STATUSES, AlertReason, Status, sql_in

# The vocabulary grew by a status (merged) and an alert reason (update): their CHECKs follow.
_CHECKS_NOW = (("queue_item", "ck_queue_item_status", "status", STATUSES),
               ("alert", "ck_alert_reason", "reason", ALERT_REASONS))
_CHECKS_BEFORE = (("queue_item", "ck_queue_item_status", "status", tuple(s for s in STATUSES if s is not Status.MERGED)),
                  ("alert", "ck_alert_reason", "reason", tuple(r for r in ALERT_REASONS if r is not AlertReason.UPDATE)))


def _replace_checks(checks: tuple[tuple[str, str, str, tuple[Status, ...] | tuple[AlertReason, ...]], ...]) -> None:
    for table, name, column, values in checks:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
            batch.create_check_constraint(name, f"{column} IN ({sql_in(values)})")

revision = "0012_grouping"
down_revision = "0011_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _replace_checks(_CHECKS_NOW)
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.add_column(sa.Column("join_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("join_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("join_post_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("join_detail", sa.Text(), nullable=True))
    with op.batch_alter_table("queue_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updates_since_decision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_update_at", monitor.core.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_queue_item_merged_into", "queue_item", ["merged_into_id"], ["id"])
    op.create_table(
        "grouping_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", monitor.core.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("same_event", sa.Boolean(), nullable=False),
        sa.Column("post_a_id", sa.Integer(), nullable=False),
        sa.Column("post_b_id", sa.Integer(), nullable=False),
        sa.Column("queue_item_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["post_a_id"], ["post.id"]),
        sa.ForeignKeyConstraint(["post_b_id"], ["post.id"]),
        sa.ForeignKeyConstraint(["queue_item_id"], ["queue_item.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grouping_correction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grouping_correction_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_grouping_correction_post_a_id"), ["post_a_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grouping_correction_post_b_id"), ["post_b_id"], unique=False)


def downgrade() -> None:
    _replace_checks(_CHECKS_BEFORE)
    with op.batch_alter_table("grouping_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grouping_correction_post_b_id"))
        batch_op.drop_index(batch_op.f("ix_grouping_correction_post_a_id"))
        batch_op.drop_index(batch_op.f("ix_grouping_correction_at"))
    op.drop_table("grouping_correction")
    with op.batch_alter_table("queue_item", schema=None) as batch_op:
        batch_op.drop_constraint("fk_queue_item_merged_into", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("last_update_at")
        batch_op.drop_column("updates_since_decision")
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.drop_column("join_detail")
        batch_op.drop_column("join_post_id")
        batch_op.drop_column("join_score")
        batch_op.drop_column("join_reason")
