"""Immediate alerts: critical or escalated queue items reach the on-call list at once (batched, rate-limited).

`raise_alert` only inserts an `alert` row in the caller's transaction (the queue calls it on an
escalation). `send_alerts` is the scheduled job: it first picks up critical items that have no
alert yet (so the pipeline need not know about alerts), then, once the oldest pending alert is
`[alerts] batch_window_s` old, sends every due alert in one email to `[alerts] recipients` and one
JSON POST to `[alerts] webhook_url`, at most `[alerts] max_per_hour` batches an hour.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.errors import DeliveryError
from monitor.core.i18n import translator
from monitor.core.tables import Alert, QueueItem, utcnow
from monitor.core.vocab import PENDING_STATUSES, AlertReason, Severity, Status
from monitor.notify import mail
from monitor.notify.render import item_link, render_template
from monitor.review.escalation import raise_alert

log = logging.getLogger(__name__)

# Critical items older than this when first seen by the sweep are left to the digest, not paged.
SWEEP_WINDOW = timedelta(hours=24)


def sweep_critical(session: Session, now: datetime) -> int:
    """Raise alerts for open critical items (and escalations) created or decided recently that have none yet."""
    since = now - SWEEP_WINDOW
    count = 0
    critical = session.exec(
        select(QueueItem).where(
            col(QueueItem.severity) == Severity.CRITICAL,
            col(QueueItem.status).in_(PENDING_STATUSES),
            col(QueueItem.updated_at) >= since,
        )
    ).all()
    escalated = session.exec(
        select(QueueItem).where(col(QueueItem.status) == Status.ESCALATED, col(QueueItem.decided_at) >= since)
    ).all()
    for items, reason in ((critical, AlertReason.CRITICAL), (escalated, AlertReason.ESCALATED)):
        for item in items:
            if raise_alert(session, item, reason, at=now) is not None:
                count += 1
    return count


def is_due(alert: Alert, settings: Settings, now: datetime) -> bool:
    """Whether an alert may be (re)tried now: after the batch window, then with exponential backoff."""
    if alert.attempts >= settings.alerts.max_attempts:
        return False
    wait = settings.alerts.batch_window_s + settings.alerts.check_interval_s * (2**alert.attempts - 1)
    return now >= alert.created_at + timedelta(seconds=wait)


def batches_last_hour(session: Session, now: datetime) -> int:
    """How many alert batches went out in the past hour (a batch shares one sent_at)."""
    return int(
        session.exec(
            select(sa.func.count(sa.distinct(col(Alert.sent_at)))).where(
                col(Alert.sent_at) > now - timedelta(hours=1)
            )
        ).one()
    )


@dataclass(frozen=True)
class AlertLine:
    """One alert as the email and the webhook show it (no post text, no author)."""

    alert_id: int
    item_id: int
    reason: str
    severity: str
    category: str | None
    region: str | None
    district: str | None
    school: str | None
    link: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The webhook's JSON object for this alert."""
        return {
            "alert_id": self.alert_id,
            "item_id": self.item_id,
            "reason": self.reason,
            "severity": self.severity,
            "category": self.category,
            "region": self.region,
            "district": self.district,
            "school": self.school,
            "link": self.link,
            "created_at": self.created_at.isoformat(),
        }


def render_email(lines: Sequence[AlertLine], settings: Settings, now: datetime) -> EmailMessage:
    """The alert email (plain text + HTML) for one batch."""
    t = translator(settings.alerts.language, settings.timezone)
    n = len(lines)
    subject = t.ngettext("URGENT school-monitor: %(num)d incident needs attention",
                         "URGENT school-monitor: %(num)d incidents need attention", n) % {"num": n}
    context = {"lines": lines, "tz": settings.timezone, "now": now, "subject": subject}
    text = render_template("alerts/alert.txt.j2", t, **context)
    html = render_template("alerts/alert.html.j2", t, **context)
    return mail.build_message(subject, text, html, settings.smtp.from_addr, settings.alerts.recipients)


class WebhookError(DeliveryError):
    """The alert webhook could not be reached or did not answer 2xx."""


def post_webhook(client: httpx.Client, settings: Settings, lines: Sequence[AlertLine], now: datetime) -> None:
    """POST the batch as JSON; signed with HMAC-SHA256 in X-Monitor-Signature when a secret is set."""
    assert settings.alerts.webhook_url
    body = json.dumps(
        {"sent_at": now.isoformat(), "alerts": [line.as_json() for line in lines]}, ensure_ascii=False
    ).encode()
    headers = {"content-type": "application/json"}
    if settings.alerts.webhook_secret is not None:
        key = settings.alerts.webhook_secret.get_secret_value().encode()
        headers["x-monitor-signature"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    try:
        response = client.post(
            settings.alerts.webhook_url,
            content=body,
            headers=headers,
            timeout=settings.alerts.webhook_timeout_s,
        )
    except httpx.HTTPError as e:
        raise WebhookError(f"webhook {settings.alerts.webhook_url}: {type(e).__name__}: {e}") from e
    if response.status_code >= 300:
        raise WebhookError(f"webhook {settings.alerts.webhook_url}: HTTP {response.status_code}")


@dataclass(frozen=True)
class AlertResult:
    """What one run of the alert job did."""

    status: str  # sent, failed, batching, rate_limited, no_channel, idle
    raised: int = 0
    sent: int = 0
    error: str | None = None


def _lines(session: Session, alerts: Sequence[Alert], base_url: str) -> list[AlertLine]:
    items = {
        i.id: i
        for i in session.exec(
            select(QueueItem).where(col(QueueItem.id).in_([a.queue_item_id for a in alerts]))
        ).all()
    }
    out = []
    for a in alerts:
        item = items[a.queue_item_id]
        out.append(
            AlertLine(
                a.id or 0,
                a.queue_item_id,
                a.reason,
                item.severity,
                item.category,
                item.region,
                item.district,
                item.school,
                item_link(base_url, a.queue_item_id),
                a.created_at,
            )
        )
    return out


def send_alerts(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx.Client | None = None,
    now: datetime | None = None,
) -> AlertResult:
    """The alert job: sweep for new critical items, then send what is due as one batch (see module doc)."""
    now = now or utcnow()
    with transaction(sessions) as session:
        raised = sweep_critical(session, now)
    has_email, has_webhook = bool(settings.alerts.recipients), bool(settings.alerts.webhook_url and client)
    if not (has_email or has_webhook):
        return AlertResult("no_channel", raised)
    with sessions() as session:
        pending = list(
            session.exec(
                select(Alert)
                .where(col(Alert.sent_at).is_(None))
                .order_by(col(Alert.created_at), col(Alert.id))
            ).all()
        )
        # Once one alert has waited out the window, every fresh alert rides along in the same batch.
        fresh = [a for a in pending if a.attempts == 0]
        retries = [a for a in pending if a.attempts > 0 and is_due(a, settings, now)]
        due = retries + fresh if retries or any(is_due(a, settings, now) for a in fresh) else []
        if not due:
            return AlertResult("batching" if pending else "idle", raised)
        if batches_last_hour(session, now) >= settings.alerts.max_per_hour:
            return AlertResult("rate_limited", raised)
        lines = _lines(session, due, settings.web.base_url)
    errors: list[str] = []
    delivered = False
    if has_email:
        try:
            mail.send(settings.smtp, render_email(lines, settings, now), settings.alerts.recipients)
            delivered = True
        except mail.MailUncertain as e:
            # At most once: the alert may have arrived; paging staff twice is worse than a logged doubt.
            delivered = True
            errors.append(str(e))
        except mail.MailError as e:
            errors.append(str(e))
    if has_webhook:
        assert client is not None
        try:
            post_webhook(client, settings, lines, now)
            delivered = True
        except WebhookError as e:
            errors.append(str(e))
    error = "; ".join(errors) or None
    with transaction(sessions) as session:
        for alert in due:
            row = session.get(Alert, alert.id)
            assert row is not None
            row.attempts += 1
            row.error = error[:4000] if error else None
            # Sent when any channel took it: retrying would page the channel that worked again.
            if delivered:
                row.sent_at = now
                item = session.get(QueueItem, row.queue_item_id)
                if item is not None and item.alerted_at is None:
                    item.alerted_at = now
    if error:
        log.warning("alerts: %s", error)
    return AlertResult("sent" if delivered else "failed", raised, len(due) if delivered else 0, error)
