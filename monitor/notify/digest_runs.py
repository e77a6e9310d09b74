"""Sending the digest exactly once per local day per recipient list, with retries, recorded in digest_run.

States of a `digest_run` row: `sending` (claimed; `next_attempt_at` is the claim's expiry, so a
process that died before handing the message over is retried after it), `sent`, `failed` (retried at
`next_attempt_at` with exponential backoff), `gave_up` (after `[digest] max_send_attempts`),
`uncertain` (the message went out but the server's answer never came, or the process died mid-send:
it may have been delivered, so it is never resent automatically; `message_id` names it for a person
to check, and `monitor digest --send --force` sends again on purpose). The row is claimed in its own
transaction before any mail is sent, so two processes never both send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.tables import DigestRun, utcnow
from monitor.notify import mail
from monitor.notify.digest import (
    RecipientList,
    Rendered,
    collect,
    default_period_start,
    pseudonym_key,
    recipient_lists,
    render,
)

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLAIM_EXPIRY = timedelta(minutes=30)
Sender = Callable[[Settings, Rendered, RecipientList, str], None]  # the last argument: the Message-ID
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Outcome:
    """What happened to one list's digest on one call."""

    list_name: str
    day: date
    status: str  # sent, failed, gave_up, uncertain, already_sent, not_due, busy
    attempts: int = 0
    error: str | None = None


def local_day(now: datetime, settings: Settings) -> date:
    """Today's date in the configured timezone."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def is_due(now: datetime, settings: Settings) -> bool:
    """Whether today's digest is due: a configured weekday and past the configured local time."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    hour, minute = (int(x) for x in settings.digest.time.split(":"))
    return WEEKDAYS[local.weekday()] in settings.digest.days and (local.hour, local.minute) >= (hour, minute)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay before retry number `attempts` (1-based): base * 2^(attempts-1), capped."""
    seconds = min(settings.digest.retry_base_s * 2 ** max(attempts - 1, 0), settings.digest.retry_max_s)
    return timedelta(seconds=seconds)


def _previous_end(session: Session, key: str, day: date) -> datetime | None:
    row = session.exec(
        select(DigestRun)
        .where(
            col(DigestRun.recipients_key) == key, col(DigestRun.status) == "sent", col(DigestRun.day) < day
        )
        .order_by(col(DigestRun.day).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row.period_end_at or row.sent_at


def _claim(
    sessions: sessionmaker[Session],
    settings: Settings,
    rl: RecipientList,
    day: date,
    now: datetime,
    force: bool,
) -> tuple[DigestRun | None, str]:
    """Claim today's row for sending; (row, "") or (None, why not)."""
    try:
        with transaction(sessions) as session:
            run = session.exec(
                select(DigestRun).where(col(DigestRun.day) == day, col(DigestRun.recipients_key) == rl.key)
            ).first()
            if run is None:
                start = _previous_end(session, rl.key, day) or default_period_start(now)
                run = DigestRun(
                    day=day,
                    recipients_key=rl.key,
                    list_name=rl.name[:100],
                    status="sending",
                    attempts=1,
                    started_at=now,
                    period_start_at=start,
                    period_end_at=now,
                    next_attempt_at=now + CLAIM_EXPIRY,
                )
                session.add(run)
                session.flush()
                return run, ""
            if run.status == "sent" and not force:
                return None, "already_sent"
            if not force:
                if run.status in ("gave_up", UNCERTAIN):
                    return None, run.status
                if run.status == "sending" and run.message_id and (run.next_attempt_at is None
                                                                   or run.next_attempt_at <= now):
                    # The process that claimed it died after it started sending: maybe delivered.
                    run.status, run.next_attempt_at = UNCERTAIN, None
                    run.error = (f"the sending process stopped mid-send; message {run.message_id} may have been "
                                 "delivered: not resent")
                    session.add(run)
                    return None, UNCERTAIN
                if run.next_attempt_at is not None and run.next_attempt_at > now:
                    return None, "busy" if run.status == "sending" else "not_due"
            # Optimistic claim: only one process moves the row from the state it read.
            claimed = session.execute(
                sa.update(DigestRun)
                .where(
                    col(DigestRun.id) == run.id,
                    col(DigestRun.status) == run.status,
                    col(DigestRun.attempts) == run.attempts,
                )
                .values(
                    status="sending",
                    attempts=run.attempts + 1,
                    next_attempt_at=now + CLAIM_EXPIRY,
                    period_end_at=now,
                )
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None, "busy"
            session.refresh(run)
            return run, ""
    except sa.exc.IntegrityError:
        return None, "busy"  # another process inserted today's row first


def _finish(
    sessions: sessionmaker[Session], settings: Settings, run_id: int, now: datetime, error: str | None,
    *, uncertain: bool = False,
) -> DigestRun:
    with transaction(sessions) as session:
        run = session.get(DigestRun, run_id)
        assert run is not None
        if uncertain:
            run.status, run.error, run.next_attempt_at = UNCERTAIN, (error or "")[:4000], None
        elif error is None:
            run.status, run.sent_at, run.error, run.next_attempt_at = "sent", now, None, None
        elif run.attempts >= settings.digest.max_send_attempts:
            run.status, run.error, run.next_attempt_at = "gave_up", error[:4000], None
        else:
            run.status, run.error = "failed", error[:4000]
            run.next_attempt_at = now + backoff(settings, run.attempts)
        return run


def smtp_sender(settings: Settings, rendered: Rendered, rl: RecipientList, message_id: str) -> None:
    """Send one rendered digest through `[smtp]` under the given Message-ID."""
    message = mail.build_message(
        rendered.subject, rendered.text, rendered.html, settings.smtp.from_addr, rl.recipients, message_id
    )
    mail.send(settings.smtp, message, rl.recipients)


def preview(
    sessions: sessionmaker[Session], settings: Settings, rl: RecipientList, now: datetime
) -> Rendered:
    """Render what the next digest of a list would say, without sending or recording anything."""
    day = local_day(now, settings)
    with sessions() as session:
        start = _previous_end(session, rl.key, day + timedelta(days=1)) or default_period_start(now)
        data = collect(session, settings, start, now, pseudonym_key(settings))
    return render(data, rl.language, settings.timezone, now)


def send_list(
    sessions: sessionmaker[Session],
    settings: Settings,
    rl: RecipientList,
    now: datetime,
    *,
    force: bool = False,
    sender: Sender = smtp_sender,
) -> Outcome:
    """Send today's digest to one list unless it was already sent (or `force`); the attempt is recorded."""
    day = local_day(now, settings)
    run, why = _claim(sessions, settings, rl, day, now, force)
    if run is None:
        return Outcome(rl.name, day, why)
    assert run.id is not None and run.period_start_at is not None
    error: str | None = None
    uncertain = False
    try:
        with sessions() as session:
            data = collect(session, settings, run.period_start_at, now, pseudonym_key(settings))
        rendered = render(data, rl.language, settings.timezone, now)
        message_id = mail.new_message_id(settings.smtp.from_addr)
        with transaction(sessions) as session:  # recorded before the message can leave
            session.execute(sa.update(DigestRun).where(col(DigestRun.id) == run.id).values(message_id=message_id))
        sender(settings, rendered, rl, message_id)
    except mail.MailUncertain as e:
        error, uncertain = str(e), True
    except mail.MailError as e:
        error = str(e)
    except sa.exc.SQLAlchemyError as e:
        error = f"database: {type(e).__name__}: {e}"
    if error:
        log.warning("digest %s for %s: attempt %d failed: %s", rl.name, day, run.attempts, error)
    done = _finish(sessions, settings, run.id, now, error, uncertain=uncertain)
    return Outcome(rl.name, day, done.status, done.attempts, done.error)


def run_digests(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: datetime | None = None,
    *,
    force: bool = False,
    when_due: bool = True,
    sender: Sender = smtp_sender,
) -> list[Outcome]:
    """The digest job: for each list, send today's digest when due, or retry a failed one whose backoff passed.

    `when_due=False` (the CLI's --send) sends now regardless of the configured time and day.
    """
    now = now or utcnow()
    day = local_day(now, settings)
    if when_due and not is_due(now, settings):
        return [Outcome(rl.name, day, "not_due") for rl in recipient_lists(settings)]
    return [
        send_list(sessions, settings, rl, now, force=force, sender=sender) for rl in recipient_lists(settings)
    ]


def recent_runs(session: Session, limit: int = 30) -> list[DigestRun]:
    """The latest digest runs, newest first (for the dashboard and `monitor digest --status`)."""
    return list(
        session.exec(
            select(DigestRun).order_by(col(DigestRun.day).desc(), col(DigestRun.id).desc()).limit(limit)
        ).all()
    )
