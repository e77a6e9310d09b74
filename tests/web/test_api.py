"""POST /api/posts runs records through the real pipeline; the split action uses the incidents module."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.db import transaction
from monitor.core.tables import Incident, Post, QueueItem
from monitor.review.users import create_api_token
from tests.web.conftest import Seeded

Clients = Callable[[str], tuple[TestClient, str]]


def _record(i: int, text: str) -> dict[str, object]:
    return {"platform": "instagram", "external_id": f"ig-{i}", "url": f"https://www.instagram.com/p/{i}/",
            "text": text, "published_at": "2026-11-20T09:00:00+05:00", "author": "anon_school_acc"}


def _count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return int(session.exec(select(sa.func.count()).select_from(table)).one())


def test_post_api_posts_ingests_through_the_pipeline(app: FastAPI, users: dict[str, int],
                                                     sessions: sessionmaker[Session]) -> None:
    token = create_api_token(sessions, "moderator", label="instagram collector")
    auth = {"Authorization": f"Bearer {token}"}
    records = [_record(1, "В школе №5 Талгара ученика избили, видео в сети"), _record(2, "Концерт в школе №3")]
    with TestClient(app) as client:
        response = client.post("/api/posts", json=records, headers=auth)
        assert response.status_code == 200, response.text
        assert response.json() == {"received": 2, "new": 2, "updated": 0, "unchanged": 0, "linked": 0,
                                   "classified": 2, "enqueued": 1}
        again = client.post("/api/posts", json=records, headers=auth).json()
    assert again["new"] == 0 and again["unchanged"] == 2
    with sessions() as session:
        item = session.exec(select(QueueItem)).one()
        assert item.platform == "instagram" and item.district == "Talgar"


def test_post_api_posts_rejects_a_bad_batch_whole(app: FastAPI, users: dict[str, int],
                                                  sessions: sessionmaker[Session]) -> None:
    token = create_api_token(sessions, "moderator")
    bad = [_record(1, "избили"), {**_record(2, "x"), "published_at": "yesterday"}]
    with TestClient(app) as client:
        response = client.post("/api/posts", json=bad, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400
        assert response.json()["detail"].startswith("post 1: ")
        not_a_list = client.post("/api/posts", json={"text": "x"}, headers={"Authorization": f"Bearer {token}"})
        assert not_a_list.status_code == 422
        anonymous = client.post("/api/posts", json=[_record(3, "избили")])
        assert anonymous.status_code == 401
    assert _count(sessions, Post) == 0


def test_split_moves_posts_to_a_new_item(client_for: Clients, seeded: Seeded,
                                         sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        item = session.get(QueueItem, seeded.talgar[1])
        assert item is not None
        extra = Post(platform="vk", external_id="other-1", url="https://vk.com/wall-1_1", text="Другая драка",
                     published_at=item.created_at, content_key="other-1", incident_id=item.incident_id)
        session.add(extra)
        session.flush()
        extra_id = extra.id
    client, csrf = client_for("moderator")
    page = client.get(f"/items/{seeded.talgar[1]}").text
    assert f'action="/items/{seeded.talgar[1]}/split"' in page
    response = client.post(f"/items/{seeded.talgar[1]}/split", data={"post_ids": str(extra_id), "csrf_token": csrf})
    assert response.status_code == 200 and "split into item" in response.text
    assert _count(sessions, Incident) == 6 and _count(sessions, QueueItem) == 6
