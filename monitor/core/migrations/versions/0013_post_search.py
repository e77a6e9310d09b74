"""Full-text search over post text: SQLite FTS5 (kept in step by triggers), PostgreSQL tsvector (russian)

Revision ID: 0013_post_search
Revises: 0013_user_language
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013_post_search"
down_revision = "0013_user_language"
branch_labels = None
depends_on = None

SQLITE_UP = (
    # An external-content index: the text lives once, in post; remove_diacritics folds ё/й variants.
    "CREATE VIRTUAL TABLE post_fts USING fts5(text, content='post', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER post_fts_ai AFTER INSERT ON post BEGIN "
    "INSERT INTO post_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER post_fts_ad AFTER DELETE ON post BEGIN "
    "INSERT INTO post_fts(post_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER post_fts_au AFTER UPDATE OF text ON post BEGIN "
    "INSERT INTO post_fts(post_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO post_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO post_fts(post_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The expression must match monitor.review.search exactly for the planner to use the index.
        op.execute("CREATE INDEX ix_post_text_search ON post USING gin (to_tsvector('russian', text))")
        return
    for statement in SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_post_text_search")
        return
    for name in ("post_fts_ai", "post_fts_ad", "post_fts_au"):
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE post_fts")
