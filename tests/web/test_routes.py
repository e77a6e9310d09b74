"""Every route for every role, in process: who may see and do what, and what anonymous callers get."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import Settings
from monitor.core.tables import ApiToken
from monitor.review.users import create_api_token
from monitor.web import create_app
from tests.web.conftest import Seeded

RANK = {"anonymous": -1, "viewer": 0, "moderator": 1, "admin": 2}


def _token(sessions: sessionmaker[Session]) -> int:
    create_api_token(sessions, "viewer", label="to revoke")
    with sessions() as session:
        return max(t.id or 0 for t in session.exec(select(ApiToken)))


def _routes(s: Seeded, users: dict[str, int], token_id: int) -> list[tuple[str, str, str, object]]:
    """(method, path, least role, form or JSON body); paths under /api/ or /openapi.json answer 401."""
    item, other = s.talgar[1], s.karasai[0]
    return [
        ("GET", "/", "viewer", None),
        ("GET", "/?district=Talgar&severity=low&sort=newest", "viewer", None),
        ("GET", f"/items/{s.hostile}", "viewer", None),
        ("GET", f"/items/{s.hostile}/snapshots/{s.snapshot_id}", "viewer", None),
        ("GET", "/dashboard", "viewer", None),
        ("GET", "/docs", "viewer", None),
        ("GET", "/openapi.json", "viewer", None),
        ("GET", "/admin", "admin", None),
        ("GET", "/admin/suggestions", "admin", None),
        ("GET", "/api/items", "viewer", None),
        ("GET", f"/api/items/{s.hostile}", "viewer", None),
        ("POST", f"/items/{item}/claim", "moderator", {}),
        ("POST", f"/items/{item}/note", "moderator", {"note": "checked the channel"}),
        ("POST", f"/items/{item}/release", "moderator", {}),
        ("POST", "/queue/claim-next", "moderator", {"district": "Karasai"}),
        ("POST", f"/items/{other}/decide", "moderator", {"status": "confirmed"}),
        ("POST", "/queue/bulk", "moderator", {"action": "dismissed", "reason": "duplicate", "ids": str(s.karasai[1])}),
        ("POST", "/admin/users", "admin", {"name": "newcomer", "role": "viewer", "password": "long enough pw"}),
        ("POST", f"/admin/users/{users['viewer']}", "admin", {"action": "unlock"}),
        ("POST", f"/api/items/{s.talgar[2]}/claim", "moderator", None),
        ("POST", "/api/claim-next?district=Talgar", "moderator", None),
        ("POST", f"/api/items/{s.talgar[2]}/decide", "moderator", {"status": "escalated"}),
        ("POST", "/api/posts", "moderator", [{"platform": "tiktok", "external_id": "v1", "text": "Концерт",
                                              "url": "https://www.tiktok.com/@a/video/1",
                                              "published_at": "2026-11-20T10:00:00+05:00"}]),
        ("POST", f"/admin/tokens/{token_id}/revoke", "admin", {}),
        ("POST", "/admin/suggestions", "admin", {"platform": "telegram", "handle": "abc_test", "action": "dismiss"}),
    ]


@pytest.mark.parametrize("role", ["anonymous", "viewer", "moderator", "admin"])
def test_every_route_for_every_role(role: str, app: FastAPI, users: dict[str, int], seeded: Seeded,
                                    sessions: sessionmaker[Session],
                                    client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    if role == "anonymous":
        client, csrf = TestClient(app), ""
    else:
        client, csrf = client_for(role)
    token_id = _token(sessions)
    for method, path, least, body in _routes(seeded, users, token_id):
        is_api = path.startswith(("/api/", "/openapi.json"))
        headers = {"X-CSRF-Token": csrf}
        if method == "GET":
            response = client.get(path, follow_redirects=False)
        elif is_api:
            response = client.post(path, json=body, headers=headers, follow_redirects=False)
        else:
            assert isinstance(body, dict)
            response = client.post(path, data={**body, "csrf_token": csrf}, follow_redirects=False)
        label = f"{role} {method} {path}"
        if role == "anonymous":
            if is_api:
                assert response.status_code == 401, label
            else:
                assert response.status_code == 303 and response.headers["location"].startswith("/login"), label
        elif RANK[role] < RANK[least]:
            assert response.status_code == 403, f"{label}: {response.status_code}"
        else:
            assert response.status_code in (200, 303), f"{label}: {response.status_code} {response.text[:300]}"
            if response.status_code == 303:
                assert not response.headers["location"].startswith("/login"), label
        assert "content-security-policy" in response.headers, label
    client.close()


def test_healthz_and_metrics_need_no_sign_in(app: FastAPI, seeded: Seeded) -> None:
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'monitor_queue_items{status="new"} 5.0' in metrics.text


def test_static_files_are_public_and_pages_carry_strict_csp(app: FastAPI) -> None:
    with TestClient(app) as client:
        js = client.get("/static/app.js")
        page = client.get("/login")
    assert js.status_code == 200 and "keydown" in js.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text and " on" + "click=" not in page.text
    cookie = page.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()


def test_cookies_are_secure_when_served_over_https(settings: Settings, sessions: sessionmaker[Session]) -> None:
    web = settings.web.model_copy(update={"base_url": "https://monitor.example.kz",
                                          "session_secret": SecretStr("s" * 40)})
    app = create_app(settings.model_copy(update={"web": web}), sessions)
    with TestClient(app, base_url="https://monitor.example.kz") as client:
        response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_without_a_session_secret_a_random_one_is_used_and_logged(settings: Settings, sessions: sessionmaker[Session],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="monitor.web.app"):
        first, second = create_app(settings, sessions), create_app(settings, sessions)
    assert "MONITOR_SESSION_SECRET is not set" in caplog.text
    with TestClient(first) as a, TestClient(second) as b:
        a.get("/login")
        cookie = a.cookies.get("monitor_session")
        assert cookie
        b.cookies.set("monitor_session", cookie)
        page = b.get("/login")
    # The other process's secret differs: its cookie is ignored and a new session starts.
    assert page.cookies.get("monitor_session") not in (None, cookie)
