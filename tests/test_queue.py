"""The review queue on SQLite and PostgreSQL: claims are exclusive, decisions audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from monitor.core.errors import InputError, QueueError
from monitor.core.tables import AuditEvent, Decision, QueueItem, utcnow
from monitor.review.claims import claim, claim_next, expire_leases, release
from monitor.review.queue import QueueFilter, add_note, bulk_decide, count_items, decide, list_items
from tests.helpers import make_items, make_user


def _audit(sessions, item_id):
    with sessions() as s:
        return [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.entity_id == item_id,
                                                                   AuditEvent.entity_type == "queue_item"))]


def test_claim_next_takes_most_severe_then_oldest(sessions):
    ids = make_items(sessions, 4, severities=("low", "critical", "medium", "critical"))
    mod = make_user(sessions)
    order = [claim_next(sessions, mod).id for _ in range(4)]
    assert order == [ids[1], ids[3], ids[2], ids[0]]
    assert claim_next(sessions, mod) is None


def test_claim_next_respects_filter(sessions):
    make_items(sessions, 2, district="Talgar")
    karasai = make_items(sessions, 1, district="Karasai")
    mod = make_user(sessions)
    item = claim_next(sessions, mod, filters=QueueFilter(district="Karasai"))
    assert item.id == karasai[0] and item.status == "in_review" and item.claimed_by_id == mod.id
    assert claim_next(sessions, mod, filters=QueueFilter(district="Karasai")) is None
    with sessions() as s:
        (event,) = s.exec(select(AuditEvent).where(AuditEvent.action == "queue.claim")).all()
        assert (event.actor, event.entity_id) == ("mod", item.id)
        assert event.detail["lease_expires_at"] == item.lease_expires_at.isoformat()
        assert abs((event.at - item.updated_at).total_seconds()) < 1


def test_two_moderators_never_hold_one_item(sessions):
    (item_id,) = make_items(sessions, 1)
    alice, bob = make_user(sessions, "alice"), make_user(sessions, "bob")
    claim(sessions, alice, item_id)
    with pytest.raises(QueueError, match="claimed by alice"):
        claim(sessions, bob, item_id)
    with pytest.raises(QueueError, match="claimed by alice"):
        decide(sessions, bob, item_id, "confirmed")
    assert claim_next(sessions, bob) is None
    decide(sessions, alice, item_id, "confirmed", note="видео подтверждено")
    with sessions() as s:
        item = s.get(QueueItem, item_id)
        assert item.status == "confirmed" and item.claimed_by_id is None and item.decided_at is not None
        (d,) = s.exec(select(Decision)).all()
        assert (d.user_id, d.status, d.note) == (alice.id, "confirmed", "видео подтверждено")
    assert _audit(sessions, item_id) == ["queue.claim", "queue.decide"]
    with pytest.raises(QueueError, match="already confirmed"):
        decide(sessions, alice, item_id, "dismissed", reason="duplicate")


def test_dismiss_needs_reason_and_viewer_cannot_decide(sessions):
    (item_id,) = make_items(sessions, 1)
    mod, viewer = make_user(sessions), make_user(sessions, "v", "viewer")
    with pytest.raises(InputError, match="reason"):
        decide(sessions, mod, item_id, "dismissed")
    with pytest.raises(InputError, match="unknown decision"):
        decide(sessions, mod, item_id, "maybe")
    with pytest.raises(QueueError, match="viewer"):
        claim(sessions, viewer, item_id)
    decide(sessions, mod, item_id, "dismissed", reason="old_news")
    assert _audit(sessions, item_id) == ["queue.decide"]


def test_escalated_item_raises_an_alert_and_can_be_decided_later(sessions):
    from monitor.core.tables import Alert

    (item_id,) = make_items(sessions, 1)
    mod = make_user(sessions)
    decide(sessions, mod, item_id, "escalated")
    with sessions() as s:
        assert [a.reason for a in s.exec(select(Alert))] == ["escalated"]
    claim(sessions, mod, item_id)
    with sessions() as s:
        assert s.get(QueueItem, item_id).status == "escalated"
    decide(sessions, mod, item_id, "confirmed")


def test_release_and_lease_expiry(sessions):
    a, b = make_items(sessions, 2)
    mod, other = make_user(sessions), make_user(sessions, "other")
    claim(sessions, mod, a)
    with pytest.raises(QueueError, match="not by you"):
        release(sessions, other, a)
    release(sessions, mod, a)
    with sessions() as s:
        assert s.get(QueueItem, a).status == "new"
    claim(sessions, mod, b, lease=timedelta(minutes=1))
    assert expire_leases(sessions, now=utcnow()) == 0
    assert expire_leases(sessions, now=utcnow() + timedelta(minutes=2)) == 1
    with sessions() as s:
        item = s.get(QueueItem, b)
        assert (item.status, item.claimed_by_id) == ("new", None)
    assert _audit(sessions, b)[-1] == "queue.lease_expired"
    # an expired lease no longer protects the item even before the expiry job runs
    claim(sessions, mod, a, lease=timedelta(seconds=-1))
    assert claim(sessions, other, a).claimed_by_id == other.id


def test_bulk_decide_collects_refusals(sessions):
    ids = make_items(sessions, 3)
    mod, other = make_user(sessions), make_user(sessions, "other")
    claim(sessions, other, ids[1])
    result = bulk_decide(sessions, mod, [*ids, 999_999], "dismissed", reason="not_violence")
    assert result.decided == [ids[0], ids[2]]
    assert set(result.refused) == {ids[1], 999_999} and "claimed by other" in result.refused[ids[1]]


def test_note_is_audited_and_listing_counts(sessions):
    ids = make_items(sessions, 5)
    mod = make_user(sessions)
    add_note(sessions, mod, ids[0], "позвонили в школу")
    with pytest.raises(InputError):
        add_note(sessions, mod, ids[0], "  ")
    with sessions() as s:
        assert count_items(s, QueueFilter(status=("new",))) == 5
        assert [i.id for i in list_items(s, limit=2, offset=1)] == ids[1:3]
        (event,) = s.exec(select(AuditEvent).where(AuditEvent.action == "queue.note")).all()
        assert event.detail["note"] == "позвонили в школу" and event.actor == "mod"


def test_audit_events_cannot_be_changed(sessions):
    import sqlalchemy as sa

    (item_id,) = make_items(sessions, 1)
    claim(sessions, make_user(sessions), item_id)
    with pytest.raises(sa.exc.DatabaseError), sessions() as s, s.begin():
        s.execute(sa.text("DELETE FROM audit_event"))


def test_severity_filter_means_at_least(sessions):
    ids = make_items(sessions, 4, severities=("low", "medium", "high", "critical"))
    mod = make_user(sessions)
    with sessions() as s:
        assert [i.id for i in list_items(s, QueueFilter(severity="high"))] == [ids[3], ids[2]]
        assert count_items(s, QueueFilter(severity="low")) == 4
    assert claim_next(sessions, mod, filters=QueueFilter(severity="high")).id == ids[3]
    assert claim_next(sessions, mod, filters=QueueFilter(severity="high")).id == ids[2]
    assert claim_next(sessions, mod, filters=QueueFilter(severity="high")) is None


def _claim_details(sessions, item_id):
    with sessions() as s:
        return [e.detail for e in s.exec(select(AuditEvent).where(
            AuditEvent.entity_id == item_id, AuditEvent.action == "queue.claim").order_by(AuditEvent.id))]


def test_claim_next_audits_the_previous_holder_on_both_databases(sessions):
    (item,) = make_items(sessions, 1)
    mod, other = make_user(sessions), make_user(sessions, "other")
    first = claim_next(sessions, mod, lease=timedelta(seconds=-1))  # taken, and its lease already over
    assert first is not None and first.id == item
    second = claim_next(sessions, other)
    assert second is not None and second.id == item and second.claimed_by_id == other.id
    details = _claim_details(sessions, item)
    assert [d["previous_holder"] for d in details] == [None, mod.id]
    assert all(isinstance(d["lease_expires_at"], str) for d in details)


def test_enqueue_takes_the_most_specific_category(sessions) -> None:
    # A teacher slapping a pupil scores higher on physical_violence, but the route is the education office.
    from monitor.core.db import transaction
    from monitor.core.tables import Classification, Incident
    from monitor.core.tables import Post as PostRow
    from monitor.review.queue import enqueue
    from tests.helpers import BASE_TIME

    with transaction(sessions) as session:
        incident = Incident(district="Talgar")
        session.add(incident)
        session.flush()
        post = PostRow(platform="test", external_id="teacher", url="https://example.org/t", text="t",
                       published_at=BASE_TIME, content_key="teacher", incident_id=incident.id)
        session.add(post)
        session.flush()
        verdict = Classification(post_id=post.id or 0, model_version="m", score=0.93, flag=True, severity="high",
                                 categories={"physical_violence": 0.96, "teacher_misconduct": 0.41, "bullying": 0.2})
        session.add(verdict)
        session.flush()
        item, created = enqueue(session, post, verdict, incident, {"teacher_misconduct": 0.35})
        assert created and item.category == "teacher_misconduct"
        assert item.categories == ["teacher_misconduct", "physical_violence"]
        # With the default 0.5 thresholds teacher_misconduct (0.41) is absent: physical_violence is the category.
        from monitor.core.classification import primary_category
        assert primary_category(dict(verdict.categories)) == "physical_violence"
