"""Issue 12 on the web: merge and reopen buttons, "joined because", "new posts since decision", the Updates view."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.db import transaction
from monitor.core.tables import AuditEvent, Post, QueueItem
from tests.web.conftest import Seeded

Clients = Callable[[str], tuple[TestClient, str]]


def test_merge_and_reopen_from_the_item_page(client_for: Clients, seeded: Seeded,
                                             sessions: sessionmaker[Session]) -> None:
    target, other = seeded.talgar[0], seeded.talgar[1]
    viewer, _ = client_for("viewer")
    assert 'id="merge"' not in viewer.get(f"/items/{target}").text
    assert viewer.post(f"/items/{target}/merge", data={"other_ids": str(other)}).status_code in (403, 400)
    client, csrf = client_for("moderator")
    page = client.get(f"/items/{target}").text
    assert f'action="/items/{target}/merge"' in page and 'id="reopen"' not in page
    bad = client.post(f"/items/{target}/merge", data={"other_ids": "twelve", "csrf_token": csrf})
    assert bad.status_code == 400
    done = client.post(f"/items/{target}/merge", data={"other_ids": f"{other}", "csrf_token": csrf})
    assert done.status_code == 200 and f"merged {other} into item {target}" in done.text
    with sessions() as s:
        merged = s.get(QueueItem, other)
        assert merged is not None and merged.status == "merged" and merged.merged_into_id == target
        assert s.exec(select(Post).where(Post.incident_id == merged.incident_id)).all() == []
    page = client.get(f"/items/{target}").text
    assert "joined because merged by moderator" in page
    assert f'href="/items/{target}"' in client.get(f"/items/{other}").text  # "Merged into item …"
    again = client.post(f"/items/{target}/merge", data={"other_ids": f"{other}", "csrf_token": csrf},
                        headers={"accept": "application/json"})
    assert again.status_code == 409 and "already merged" in again.json()["detail"]

    client.post(f"/items/{target}/decide", data={"status": "dismissed", "reason": "old_news", "csrf_token": csrf})
    page = client.get(f"/items/{target}").text
    assert 'id="reopen"' in page
    reopened = client.post(f"/items/{target}/reopen", data={"csrf_token": csrf})
    assert reopened.status_code == 200 and "reopened" in reopened.text
    with sessions() as s:
        item = s.get(QueueItem, target)
        assert item is not None and item.status == "new"
        actions = [e.action for e in s.exec(select(AuditEvent).where(
            AuditEvent.entity_type == "queue_item", AuditEvent.entity_id == target)) if e.action != "item.view"]
        assert actions[-3:] == ["incident.merge", "queue.decide", "queue.reopen"]


def test_updates_view_lists_decided_items_with_new_posts(client_for: Clients, seeded: Seeded,
                                                         sessions: sessionmaker[Session]) -> None:
    item_id = seeded.karasai[0]
    with transaction(sessions) as s:
        item = s.get(QueueItem, item_id)
        assert item is not None
        item.status, item.updates_since_decision = "confirmed", 2
        s.add(item)
        post = s.get(Post, item.post_id)
        assert post is not None
        post.join_detail = "same meaning as post 7 (0.91); agrees on school 12, place Kaskelen"
        s.add(post)
    client, _ = client_for("viewer")
    updates = client.get("/?status=updates").text
    assert f'href="/items/{item_id}"' in updates
    assert f'href="/items/{seeded.karasai[1]}"' not in updates
    assert "2 new since decision" in updates
    page = client.get(f"/items/{item_id}").text
    assert "2 new posts since decision" in page
    assert "joined because same meaning as post 7 (0.91); agrees on school 12" in page
