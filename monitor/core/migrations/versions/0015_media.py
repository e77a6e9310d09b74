"""media: archived photos/videos of posts (media_item), their keyframe PDQ hashes (media_frame), matches (media_match)

Revision ID: 0015_media
Revises: 0016_discovery
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import monitor.core.tables

revision = "0015_media"
down_revision = "0016_discovery"
branch_labels = None
depends_on = None


def _s(n: int) -> AutoString:
    return AutoString(length=n)


def _ts() -> monitor.core.tables.UTCDateTime:
    return monitor.core.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "media_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", _s(20), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_key", _s(64), nullable=False),
        sa.Column("status", _s(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _ts(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sha256", _s(64), nullable=True),
        sa.Column("content_type", _s(200), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("thumb_sha256", _s(64), nullable=True),
        sa.Column("fetched_at", _ts(), nullable=True),
        sa.Column("checked_at", _ts(), nullable=True),
        sa.Column("deleted_at_source_at", _ts(), nullable=True),
        sa.Column("matched_at", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "url_key", name="uq_media_item_post_url"),
    )
    op.create_index("ix_media_item_due", "media_item", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_media_item_post_id"), "media_item", ["post_id"], unique=False)
    op.create_index(op.f("ix_media_item_sha256"), "media_item", ["sha256"], unique=False)
    op.create_table(
        "media_frame",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("pdq", sa.LargeBinary(), nullable=False),
        sa.Column("pdq_crop", sa.LargeBinary(), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("jpeg_sha256", _s(64), nullable=True),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_item.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_media_frame_media_item_id"), "media_frame", ["media_item_id"], unique=False)
    op.create_table(
        "media_match",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.Column("other_media_item_id", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("inliers", sa.Integer(), nullable=False),
        sa.Column("reason", _s(200), nullable=False),
        sa.Column("joined_incident_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_item.id"]),
        sa.ForeignKeyConstraint(["other_media_item_id"], ["media_item.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("media_item_id", "other_media_item_id", name="uq_media_match_pair"),
    )
    op.create_index(op.f("ix_media_match_media_item_id"), "media_match", ["media_item_id"], unique=False)
    op.create_index(op.f("ix_media_match_other_media_item_id"), "media_match", ["other_media_item_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_media_match_other_media_item_id"), table_name="media_match")
    op.drop_index(op.f("ix_media_match_media_item_id"), table_name="media_match")
    op.drop_table("media_match")
    op.drop_index(op.f("ix_media_frame_media_item_id"), table_name="media_frame")
    op.drop_table("media_frame")
    op.drop_index(op.f("ix_media_item_sha256"), table_name="media_item")
    op.drop_index(op.f("ix_media_item_post_id"), table_name="media_item")
    op.drop_index("ix_media_item_due", table_name="media_item")
    op.drop_table("media_item")
