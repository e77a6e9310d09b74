"""SQLModel tables: stored rows only (API shapes and scraper records live elsewhere)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from monitor.core.vocab import (
    ALERT_REASONS,
    DECISIONS,
    DISMISS_REASONS,
    OPEN_STATUSES,
    ROLES,
    SEVERITIES,
    STATUSES,
    sql_in,
)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) and PostgreSQL (timestamptz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a table class (for executemany inserts and CTEs)."""
    table = getattr(model, "__table__")  # noqa: B009 - SQLModel adds it at class creation; mypy cannot see it
    assert isinstance(table, sa.Table)
    return table


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _ts_now(index: bool = False) -> Any:
    return Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False, index=index))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=sa.Column(sa.JSON(), nullable=False))


def _check(name: str, column: str, values: tuple[Any, ...], *, nullable: bool = False) -> sa.CheckConstraint:
    """A CHECK that `column` holds one of the vocabulary's values (revision 0009_vocab)."""
    rule = f"{column} IN ({sql_in(values)})"
    return sa.CheckConstraint(f"{column} IS NULL OR {rule}" if nullable else rule, name=name)


class Source(SQLModel, table=True):
    """A configured source and its scraping state."""

    __tablename__ = "source"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False, unique=True))
    platform: str = Field(max_length=40)
    target: str = Field(max_length=1000)
    cursor: dict[str, Any] = _json(dict)
    last_success_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    last_error_at: datetime | None = _ts()
    consecutive_failures: int = 0
    created_at: datetime = _ts_now()


class Snapshot(SQLModel, table=True):
    """A raw response kept (zlib-compressed) as evidence; shared by the posts parsed from it."""

    __tablename__ = "snapshot"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    url: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    content_type: str = Field(default="", max_length=200)
    fetched_at: datetime = _ts_now(index=True)
    size: int = 0
    body_z: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary()))


class Incident(SQLModel, table=True):
    """One real-world event; the posts about it (reposts, translations) point here."""

    __tablename__ = "incident"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts_now()
    first_seen_at: datetime = _ts_now(index=True)
    last_seen_at: datetime = _ts_now()
    region: str | None = Field(default=None, max_length=100)
    district: str | None = Field(default=None, max_length=100)
    school: str | None = Field(default=None, max_length=300)
    split_from_id: int | None = Field(default=None, foreign_key="incident.id")


class Post(SQLModel, table=True):
    """A stored post; unique per platform + external id."""

    __tablename__ = "post"
    __table_args__ = (sa.UniqueConstraint("platform", "external_id", name="uq_post_platform_external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=40)
    external_id: str = Field(max_length=300)
    source_id: int | None = Field(default=None, foreign_key="source.id", index=True)
    url: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    author: str | None = Field(default=None, max_length=300)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    language: str = Field(default="other", max_length=8)
    published_at: datetime = _ts(nullable=False, index=True)
    collected_at: datetime = _ts_now()
    updated_at: datetime = _ts_now()
    media: list[dict[str, Any]] = _json(list)
    extras: dict[str, Any] = _json(dict)
    has_video: bool = False
    content_key: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, index=True))
    duplicate_of_id: int | None = Field(default=None, foreign_key="post.id")
    snapshot_id: int | None = Field(default=None, foreign_key="snapshot.id", index=True)
    snapshot_sha256: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=100)
    district: str | None = Field(default=None, max_length=100)
    town: str | None = Field(default=None, max_length=100)
    school: str | None = Field(default=None, max_length=300)
    places: list[dict[str, Any]] = _json(list)
    has_education_context: bool = True
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # The encoder's L2-normalized embedding (float32 bytes), kept for incident grouping.
    embedding: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary()))
    # Why the post joined its incident (revision 0012_grouping): the evidence, its score, the post it
    # matched and a sentence for moderators. None for the post that started the incident.
    join_reason: str | None = Field(default=None, max_length=20)
    join_score: float | None = None
    join_post_id: int | None = None
    join_detail: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))


class Classification(SQLModel, table=True):
    """One model version's verdict on one post."""

    __tablename__ = "classification"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "model_version", name="uq_classification_post_model"),
        _check("ck_classification_severity", "severity", SEVERITIES),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    model_version: str = Field(max_length=100)
    score: float
    flag: bool
    categories: dict[str, float] = _json(dict)
    severity: str = Field(default="none", max_length=10)
    evidence: list[dict[str, Any]] = _json(list)
    created_at: datetime = _ts_now()


class User(SQLModel, table=True):
    """A person who signs in: viewer, moderator or admin."""

    __tablename__ = "user"
    __table_args__ = (_check("ck_user_role", "role", ROLES),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False, unique=True))
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=300)
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = _ts()
    created_at: datetime = _ts_now()
    # Raised by logout, password, role and activation changes: older browser sessions stop working.
    session_generation: int = Field(default=0, sa_column=sa.Column(sa.Integer(), nullable=False, server_default="0"))
    # The interface language this user chose (ru, kk, en); None: the configured `[web] language`.
    language: str | None = Field(default=None, sa_column=sa.Column(sa.String(8), nullable=True))


class ApiToken(SQLModel, table=True):
    """A per-user API token (only its hash is stored)."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    label: str = Field(default="", max_length=100)
    created_at: datetime = _ts_now()
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


class QueueItem(SQLModel, table=True):
    """One incident waiting for (or past) review; filter columns are copied here for fast queue pages."""

    __tablename__ = "queue_item"
    __table_args__ = (
        sa.Index("ix_queue_claim_order", "status", "severity_rank", "created_at"),
        sa.Index("ix_queue_district", "district", "status"),
        sa.Index("ix_queue_region", "region", "status"),  # web queue page filters (revision 0004_web)
        sa.Index("ix_queue_category", "category", "status"),
        sa.Index("ix_queue_open_order", "severity_rank", "created_at", "id",  # revision 0004_web_open
                 postgresql_where=sa.text(f"status IN ({sql_in(OPEN_STATUSES)})"),
                 sqlite_where=sa.text(f"status IN ({sql_in(OPEN_STATUSES)})")),
        _check("ck_queue_item_status", "status", STATUSES),
        _check("ck_queue_item_severity", "severity", SEVERITIES),
    )
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(sa_column=sa.Column(sa.Integer(), sa.ForeignKey("incident.id"), nullable=False, unique=True))
    post_id: int = Field(foreign_key="post.id", index=True)
    status: str = Field(default="new", max_length=20)
    severity: str = Field(default="none", max_length=10)
    severity_rank: int = 0
    score: float = 0.0
    category: str | None = Field(default=None, max_length=40)
    categories: list[str] = _json(list)
    # A moderator chose the categories (revision 0017_category_correction): who and when. While set, no machine
    # step (a post joining, a merge) rewrites category or categories.
    category_corrected_by: str | None = Field(default=None, max_length=100)
    category_corrected_at: datetime | None = _ts()
    model_version: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    district: str | None = Field(default=None, max_length=100)
    school: str | None = Field(default=None, max_length=300)
    platform: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=8)
    has_video: bool = False
    post_count: int = 1
    claimed_by_id: int | None = Field(default=None, foreign_key="user.id")
    lease_expires_at: datetime | None = _ts()
    created_at: datetime = _ts_now()
    updated_at: datetime = _ts_now()
    decided_at: datetime | None = _ts(index=True)
    alerted_at: datetime | None = _ts()
    # Posts that joined after the last decision (revision 0012_grouping); shown and listed as "Updates".
    updates_since_decision: int = 0
    last_update_at: datetime | None = _ts()
    merged_into_id: int | None = Field(default=None, foreign_key="queue_item.id")
    # Who should look at it (set by a moderator or admin; revision 0013_assignment); independent of a claim.
    assigned_to_id: int | None = Field(default=None, foreign_key="user.id", index=True)


class GroupingCorrection(SQLModel, table=True):
    """A moderator's correction of grouping as a labelled pair: same event (merge) or not (split)."""

    __tablename__ = "grouping_correction"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts_now(index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=20)  # "merge" or "split"
    same_event: bool
    post_a_id: int = Field(foreign_key="post.id", index=True)
    post_b_id: int = Field(foreign_key="post.id", index=True)
    queue_item_id: int | None = Field(default=None, foreign_key="queue_item.id")


class Decision(SQLModel, table=True):
    """A moderator's decision on a queue item."""

    __tablename__ = "decision"
    __table_args__ = (
        _check("ck_decision_status", "status", DECISIONS),
        _check("ck_decision_reason", "reason", DISMISS_REASONS, nullable=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    queue_item_id: int = Field(foreign_key="queue_item.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    status: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    model_version: str | None = Field(default=None, max_length=100)
    decided_at: datetime = _ts_now(index=True)


class AuditEvent(SQLModel, table=True):
    """Append-only log of every state change and evidence view (triggers forbid update/delete)."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts_now(index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60)
    entity_type: str = Field(max_length=40)
    entity_id: int | None = Field(default=None, index=True)
    detail: dict[str, Any] = _json(dict)


class ScrapeRun(SQLModel, table=True):
    """One run of one source."""

    __tablename__ = "scrape_run"
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    started_at: datetime = _ts_now()
    finished_at: datetime | None = _ts()
    status: str = Field(default="running", max_length=20)
    pages: int = 0
    posts_new: int = 0
    posts_updated: int = 0
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))


class DigestRun(SQLModel, table=True):
    """One day's digest for one recipient list: recorded so it is sent exactly once."""

    __tablename__ = "digest_run"
    __table_args__ = (sa.UniqueConstraint("day", "recipients_key", name="uq_digest_day_recipients"),)
    id: int | None = Field(default=None, primary_key=True)
    day: date
    recipients_key: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    started_at: datetime = _ts_now()
    sent_at: datetime | None = _ts()
    period_start_at: datetime | None = _ts()
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    # Added by revision 0007_service: which list, the period covered, when a failed send is retried.
    list_name: str = Field(default="default", max_length=100)
    period_end_at: datetime | None = _ts()
    next_attempt_at: datetime | None = _ts()
    # Added by revision 0011_delivery: the Message-ID of the latest attempt (status "uncertain" names it).
    message_id: str | None = Field(default=None, max_length=300)


class Alert(SQLModel, table=True):
    """An immediate alert about a critical or escalated item (batched, rate-limited)."""

    __tablename__ = "alert"
    __table_args__ = (_check("ck_alert_reason", "reason", ALERT_REASONS),)
    id: int | None = Field(default=None, primary_key=True)
    queue_item_id: int = Field(foreign_key="queue_item.id", index=True)
    reason: str = Field(max_length=20)
    created_at: datetime = _ts_now()
    sent_at: datetime | None = _ts(index=True)
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))


class JobRun(SQLModel, table=True):
    """One run of one scheduled job for one interval slot: unique, so several processes run it once."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("job", "slot_at", name="uq_job_run_job_slot"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=200, index=True)
    slot_at: datetime = _ts(nullable=False)
    holder: str = Field(max_length=200)
    status: str = Field(default="running", max_length=20)
    started_at: datetime = _ts_now(index=True)
    finished_at: datetime | None = _ts()
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))


class SourceSuggestion(SQLModel, table=True):
    """An admin's decision on a discovered source: added (as a disabled config entry) or dismissed."""

    __tablename__ = "source_suggestion"
    __table_args__ = (sa.UniqueConstraint("platform", "handle", name="uq_source_suggestion_platform_handle"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=40)
    handle: str = Field(max_length=200)
    status: str = Field(max_length=20)
    score: float = 0.0
    flagged_posts: int = 0
    decided_by: str = Field(max_length=100)
    decided_at: datetime = _ts_now()


class MediaItem(SQLModel, table=True):
    """One photo, video or thumbnail of a stored post: its fetch state and the archived file (revision 0015_media)."""

    __tablename__ = "media_item"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "url_key", name="uq_media_item_post_url"),
        sa.Index("ix_media_item_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    position: int = 0
    kind: str = Field(max_length=20)  # photo | video | thumbnail
    url: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    url_key: str = Field(max_length=64)  # sha256 of the URL (URLs are too long for a unique index)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    sha256: str | None = Field(default=None, max_length=64, index=True)
    content_type: str | None = Field(default=None, max_length=200)
    size: int = 0
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frame_count: int = 0
    thumb_sha256: str | None = Field(default=None, max_length=64)
    fetched_at: datetime | None = _ts()
    checked_at: datetime | None = _ts()
    deleted_at_source_at: datetime | None = _ts()
    matched_at: datetime | None = _ts()  # compared with the stored media (a crashed run leaves it empty)
    created_at: datetime = _ts_now()


class MediaFrame(SQLModel, table=True):
    """A keyframe of a video (or the one frame of a photo): PDQ hashes of the whole frame and of its content box."""

    __tablename__ = "media_frame"
    id: int | None = Field(default=None, primary_key=True)
    media_item_id: int = Field(foreign_key="media_item.id", index=True)
    idx: int = 0
    t_s: float = 0.0
    pdq: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    pdq_crop: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary()))
    quality: int = 0
    jpeg_sha256: str | None = Field(default=None, max_length=64)


class MediaMatch(SQLModel, table=True):
    """Two media items found to show the same picture or video (hash candidates, geometrically confirmed)."""

    __tablename__ = "media_match"
    __table_args__ = (sa.UniqueConstraint("media_item_id", "other_media_item_id", name="uq_media_match_pair"),)
    id: int | None = Field(default=None, primary_key=True)
    media_item_id: int = Field(foreign_key="media_item.id", index=True)
    other_media_item_id: int = Field(foreign_key="media_item.id", index=True)
    share: float = 0.0
    frames: int = 0
    inliers: int = 0
    reason: str = Field(default="", max_length=200)
    joined_incident_id: int | None = None
    created_at: datetime = _ts_now()


class SavedFilter(SQLModel, table=True):
    """A queue view a user named and keeps (its query string), one name per user (revision 0013_saved_filter)."""

    __tablename__ = "saved_filter"
    __table_args__ = (sa.UniqueConstraint("user_id", "name", name="uq_saved_filter_user_name"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    query: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = _ts_now()
