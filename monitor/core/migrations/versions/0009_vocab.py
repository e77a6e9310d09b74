"""CHECK constraints from the vocabulary; a per-user session generation (server-side logout)

Revision ID: 0009_vocab
Revises: 0008_merge
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.core.vocab import ALERT_REASONS, DECISIONS, DISMISS_REASONS, ROLES, SEVERITIES, STATUSES, sql_in

revision = "0009_vocab"
down_revision = "0008_merge"
branch_labels = None
depends_on = None

# (table, constraint, column, values, nullable); the same rules as monitor.core.tables._check.
CHECKS = (
    ("queue_item", "ck_queue_item_status", "status", STATUSES, False),
    ("queue_item", "ck_queue_item_severity", "severity", SEVERITIES, False),
    ("user", "ck_user_role", "role", ROLES, False),
    ("decision", "ck_decision_status", "status", DECISIONS, False),
    ("decision", "ck_decision_reason", "reason", DISMISS_REASONS, True),
    ("classification", "ck_classification_severity", "severity", SEVERITIES, False),
    ("alert", "ck_alert_reason", "reason", ALERT_REASONS, False),
)


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    for table, name, column, values, nullable in CHECKS:
        rule = f"{column} IN ({sql_in(values)})"
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(name, f"{column} IS NULL OR {rule}" if nullable else rule)


def downgrade() -> None:
    for table, name, *_ in reversed(CHECKS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("session_generation")
