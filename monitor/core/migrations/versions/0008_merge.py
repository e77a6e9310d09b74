"""merge parallel branches

Revision ID: 0008_merge
Revises: 0002_incidents, 0004_web_open, 0007_service
Create Date: 2026-11-29 04:44:36.503184
"""

from __future__ import annotations

revision = '0008_merge'
down_revision = ('0002_incidents', '0004_web_open', '0007_service')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
