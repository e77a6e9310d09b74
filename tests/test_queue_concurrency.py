"""20 moderators working one PostgreSQL queue of 1,000 items at once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlmodel import select

from monitor.core.config import DatabaseSettings
from monitor.core.db import create_db_engine, session_factory
from monitor.core.tables import AuditEvent, Decision, QueueItem
from monitor.review.claims import claim_next
from monitor.review.queue import decide
from tests.helpers import make_items, make_user

WORKERS = 20
ITEMS = 1000


@pytest.mark.postgres
@pytest.mark.slow
def test_twenty_claimers_each_item_exactly_once(pg_url):
    engine = create_db_engine(DatabaseSettings(url=pg_url, pool_size=WORKERS))
    sessions = session_factory(engine)
    make_items(sessions, ITEMS, severities=("low", "medium", "high", "critical"))
    users = [make_user(sessions, f"mod{i}") for i in range(WORKERS)]
    claimed: dict[str, list[int]] = {u.name: [] for u in users}
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(user):
        try:
            start.wait()
            while (item := claim_next(sessions, user)) is not None:
                claimed[user.name].append(item.id)
                decide(sessions, user, item.id, "confirmed" if item.id % 2 else "dismissed",
                       reason=None if item.id % 2 else "not_violence")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker hung (deadlock?)"
    assert errors == []
    all_claims = [i for ids in claimed.values() for i in ids]
    assert len(all_claims) == ITEMS and len(set(all_claims)) == ITEMS
    assert sum(1 for ids in claimed.values() if ids) > 1, "work was not spread over workers"
    with sessions() as s:
        assert s.exec(select(sa.func.count()).select_from(Decision)).one() == ITEMS
        per_item = Counter(s.exec(select(Decision.queue_item_id)))
        assert set(per_item.values()) == {1}
        statuses = Counter(s.exec(select(QueueItem.status)))
        assert statuses == {"confirmed": ITEMS // 2, "dismissed": ITEMS // 2}
        claims = Counter(s.exec(select(AuditEvent.entity_id).where(AuditEvent.action == "queue.claim")))
        assert len(claims) == ITEMS and set(claims.values()) == {1}
    engine.dispose()
