"""Every route for every role, in process: who may see and do what, and what anonymous callers get."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import Seeded

RANK = {"anonymous": -1, "viewer": 0, "moderator": 1, "admin": 2}


def _routes(s: Seeded, users: dict[str, int]) -> list[tuple[str, str, str, dict[str, object] | None]]:
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
    ]


@pytest.mark.parametrize("role", ["anonymous", "viewer", "moderator", "admin"])
def test_every_route_for_every_role(role: str, app: FastAPI, users: dict[str, int], seeded: Seeded,
                                    client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    if role == "anonymous":
        client, csrf = TestClient(app), ""
    else:
        client, csrf = client_for(role)
    for method, path, least, body in _routes(seeded, users):
        is_api = path.startswith(("/api/", "/openapi.json"))
        headers = {"X-CSRF-Token": csrf}
        if method == "GET":
            response = client.get(path, follow_redirects=False)
        elif is_api:
            response = client.post(path, json=body, headers=headers, follow_redirects=False)
        else:
            response = client.post(path, data={**(body or {}), "csrf_token": csrf}, follow_redirects=False)
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
