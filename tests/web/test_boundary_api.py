"""Issue 11 at the API: the ingest body meets the same validator as `monitor ingest`; odd ids are 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.tables import Post
from monitor.review.users import create_api_token
from tests.test_boundary import EDGE_DATES, SECRET, bad_lines

RECORD = {"platform": "instagram", "external_id": "ig-1", "url": "https://www.instagram.com/p/1/",
          "text": f"{SECRET} избили", "published_at": "2026-11-20T09:00:00+05:00", "author": "anon"}


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.exec(select(sa.func.count()).select_from(Post)).one())


@pytest.fixture
def api(app: FastAPI, users: dict[str, int], sessions: sessionmaker[Session]) -> Any:
    token = create_api_token(sessions, "moderator")
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_every_bad_kind_is_a_400_naming_the_post(api: TestClient, sessions: sessionmaker[Session]) -> None:
    for raw, reason in bad_lines():
        body = "[" + json.dumps(RECORD) + ", " + raw + "]"
        response = api.post("/api/posts", content=body.encode("utf-8", "surrogatepass"),
                            headers={"content-type": "application/json"})
        assert response.status_code in (400, 422), (reason, response.status_code, response.text[:200])
        assert SECRET not in response.text
        if response.status_code == 400 and reason and not reason.startswith("not JSON"):
            assert response.json()["detail"].startswith(f"post 1: {reason}")
    assert _count(sessions) == 0


@pytest.mark.parametrize("value", EDGE_DATES)
def test_edge_dates_are_400_not_500(api: TestClient, value: str) -> None:
    response = api.post("/api/posts", json=[{**RECORD, "published_at": value}])
    assert response.status_code == 400 and "post 0:" in response.json()["detail"]


@pytest.mark.parametrize("item_id", ["99999999999999999999999", "9223372036854775808", "-1", "0"])
def test_huge_item_ids_are_404(api: TestClient, item_id: str) -> None:
    assert api.get(f"/api/items/{item_id}").status_code == 404
    assert api.post(f"/api/items/{item_id}/claim").status_code == 404


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                       max_leaves=15)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    JSONISH,
    st.lists(st.fixed_dictionaries({}, optional={k: JSONISH | st.just(v) for k, v in RECORD.items()}), max_size=3),
))
def test_api_body_gives_a_result_or_a_client_error(api: TestClient, body: Any) -> None:
    response = api.post("/api/posts", content=json.dumps(body, allow_nan=True).encode(),
                        headers={"content-type": "application/json"})
    assert response.status_code in (200, 400, 422), response.text[:300]
    assert SECRET not in response.text or response.status_code == 200
