"""The one place a status, role, decision, severity, category or dismiss reason is spelled.

Every other module imports these names; a group (open, pending, final, …) is defined here once.
The values are also the strings stored in the database, guarded there by CHECK constraints
(revision 0009_vocab).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a queue item stands."""

    NEW = "new"
    IN_REVIEW = "in_review"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"
    # Folded into another item by a moderator's merge (its posts moved there).
    MERGED = "merged"


STATUSES: tuple[Status, ...] = tuple(Status)
# Not decided yet: waiting for (or held by) a moderator.
OPEN_STATUSES: tuple[Status, ...] = (Status.NEW, Status.IN_REVIEW)
# Still needs someone: undecided, or escalated and waiting on the people it went to.
PENDING_STATUSES: tuple[Status, ...] = (Status.NEW, Status.IN_REVIEW, Status.ESCALATED)
# Closed: no further moderator action.
FINAL_STATUSES: tuple[Status, ...] = (Status.CONFIRMED, Status.DISMISSED)
# What a moderator may decide.
DECISIONS: tuple[Status, ...] = (Status.CONFIRMED, Status.DISMISSED, Status.ESCALATED)
# Decisions that say "a real incident" (precision on the dashboard, training positives).
POSITIVE_DECISIONS: tuple[Status, ...] = (Status.CONFIRMED, Status.ESCALATED)
# Decided items whose posts joined after the decision show as updates (nothing hides in a decided item).
UPDATABLE_STATUSES: tuple[Status, ...] = POSITIVE_DECISIONS
# Items whose evidence (snapshots, post text, media) retention keeps: live or confirmed ones.
EVIDENCE_STATUSES: tuple[Status, ...] = (Status.NEW, Status.IN_REVIEW, Status.ESCALATED, Status.CONFIRMED)


class DismissReason(StrEnum):
    """Why a moderator dismissed an item."""

    NOT_SCHOOL_RELATED = "not_school_related"
    NOT_VIOLENCE = "not_violence"
    DUPLICATE = "duplicate"
    OLD_NEWS = "old_news"
    FICTION_OR_FILM = "fiction_or_film"
    OTHER = "other"


DISMISS_REASONS: tuple[DismissReason, ...] = tuple(DismissReason)
# Dismissals that say the classifier was wrong (not "a real incident, but already seen").
FALSE_ALARM_REASONS: tuple[DismissReason, ...] = (
    DismissReason.NOT_SCHOOL_RELATED, DismissReason.NOT_VIOLENCE, DismissReason.FICTION_OR_FILM,
)


class Role(StrEnum):
    """What a signed-in user may do; each role may do everything the lower ones may."""

    VIEWER = "viewer"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for moderator, 2 for admin."""
        return ROLES.index(self)


ROLES: tuple[Role, ...] = tuple(Role)
# Roles that may claim and decide queue items, split or merge incidents.
DECIDER_ROLES: tuple[Role, ...] = (Role.MODERATOR, Role.ADMIN)


def role_at_least(role: str, needed: str) -> bool:
    """Whether a stored role string is `needed` or higher (an unknown role is never enough)."""
    try:
        return Role(role).rank >= Role(needed).rank
    except ValueError:
        return False


class Severity(StrEnum):
    """How urgent a flagged post is, lowest first."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITIES: tuple[Severity, ...] = tuple(Severity)


def severity_rank(severity: str) -> int:
    """0 for none … 4 for critical (the queue sorts on it)."""
    return SEVERITIES.index(Severity(severity))


class Category(StrEnum):
    """What kind of harm a post reports (a post may have several)."""

    PHYSICAL_VIOLENCE = "physical_violence"
    BULLYING = "bullying"
    CYBERBULLYING = "cyberbullying"
    EXTORTION = "extortion"
    SEXUAL_MISCONDUCT = "sexual_misconduct"
    TEACHER_MISCONDUCT = "teacher_misconduct"
    THREAT_WEAPON = "threat_weapon"


CATEGORIES: tuple[Category, ...] = tuple(Category)
# Most specific first: the queue's one category is the first of these present (sexual misconduct
# whenever present, a teacher's act over the violence it also is, a weapon or threat when it is the point).
PRIMARY_ORDER: tuple[Category, ...] = (
    Category.SEXUAL_MISCONDUCT, Category.TEACHER_MISCONDUCT, Category.THREAT_WEAPON, Category.EXTORTION,
    Category.CYBERBULLYING, Category.BULLYING, Category.PHYSICAL_VIOLENCE,
)


class AlertReason(StrEnum):
    """Why an immediate alert was raised."""

    CRITICAL = "critical"
    ESCALATED = "escalated"
    UPDATE = "update"  # a new post joined a confirmed or escalated item


ALERT_REASONS: tuple[AlertReason, ...] = tuple(AlertReason)


class MediaStatus(StrEnum):
    """Where the archiving of one photo, video or thumbnail stands."""

    PENDING = "pending"
    FETCHED = "fetched"
    FAILED = "failed"
    REFUSED = "refused"
    GONE = "gone"
    PURGED = "purged"


MEDIA_STATUSES: tuple[MediaStatus, ...] = tuple(MediaStatus)


def sql_in(values: tuple[StrEnum, ...]) -> str:
    """`'a', 'b'` for a CHECK constraint or a partial index over these values."""
    return ", ".join(f"'{v.value}'" for v in values)


def values(members: tuple[StrEnum, ...]) -> list[str]:
    """The plain strings of a group (for click choices and error messages)."""
    return [m.value for m in members]
