"""Behaviour behind the routes: CSRF refusal, claim conflicts, lockout, escaping, audit, filters, tokens."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.db import transaction
from monitor.core.tables import AuditEvent, QueueItem, User
from monitor.review import stats
from monitor.review.users import create_api_token
from tests.web.conftest import PASSWORD, Seeded, csrf_of

Clients = Callable[[str], tuple[TestClient, str]]


def _status(sessions: sessionmaker[Session], item_id: int) -> str:
    with sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        return item.status


def test_state_changes_without_the_csrf_token_are_refused(client_for: Clients, seeded: Seeded,
                                                           sessions: sessionmaker[Session]) -> None:
    client, csrf = client_for("moderator")
    item = seeded.talgar[1]
    missing = client.post(f"/items/{item}/decide", data={"status": "confirmed"})
    wrong = client.post(f"/items/{item}/decide", data={"status": "confirmed", "csrf_token": csrf + "x"})
    api = client.post(f"/api/items/{item}/decide", json={"status": "confirmed"})
    assert missing.status_code == wrong.status_code == api.status_code == 403
    assert "reload the page" in missing.text
    assert _status(sessions, item) == "new"
    ok = client.post(f"/items/{item}/decide", data={"status": "confirmed", "csrf_token": csrf},
                     follow_redirects=False)
    assert ok.status_code == 303 and _status(sessions, item) == "confirmed"


def test_login_form_needs_its_csrf_token(app: FastAPI, users: dict[str, int]) -> None:
    with TestClient(app) as client:
        client.get("/login")
        response = client.post("/login", data={"name": "moderator", "password": PASSWORD})
    assert response.status_code == 403


def test_a_decision_by_someone_without_the_claim_is_refused(client_for: Clients, seeded: Seeded,
                                                            sessions: sessionmaker[Session]) -> None:
    first, csrf1 = client_for("moderator")
    second, csrf2 = client_for("moderator2")
    item = seeded.talgar[2]
    assert first.post(f"/items/{item}/claim", data={"csrf_token": csrf1}, follow_redirects=False).status_code == 303
    page = second.post(f"/items/{item}/decide", data={"status": "confirmed", "csrf_token": csrf2})
    assert "claimed by moderator until" in page.text  # shown as a flash on the item page
    js = second.post(f"/items/{item}/decide", data={"status": "confirmed"},
                     headers={"Accept": "application/json", "X-CSRF-Token": csrf2})
    assert js.status_code == 409 and "claimed by moderator" in js.json()["detail"]
    api = second.post(f"/api/items/{item}/claim", headers={"X-CSRF-Token": csrf2})
    assert api.status_code == 409 and "claimed by moderator" in api.json()["detail"]
    assert _status(sessions, item) == "in_review"
    done = first.post(f"/items/{item}/decide", data={"status": "dismissed", "reason": "old_news",
                                                     "csrf_token": csrf1}, follow_redirects=False)
    assert done.status_code == 303 and _status(sessions, item) == "dismissed"
    again = first.post(f"/api/items/{item}/decide", json={"status": "confirmed"}, headers={"X-CSRF-Token": csrf1})
    assert again.status_code == 409 and "already dismissed" in again.json()["detail"]


def test_dismiss_needs_a_reason_from_the_list(client_for: Clients, seeded: Seeded,
                                              sessions: sessionmaker[Session]) -> None:
    client, csrf = client_for("moderator")
    item = seeded.talgar[1]
    response = client.post(f"/items/{item}/decide", data={"status": "dismissed", "csrf_token": csrf})
    assert response.status_code == 400 and "reason" in response.text
    api = client.post(f"/api/items/{item}/decide", json={"status": "dismissed", "reason": "boring"},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 400
    assert _status(sessions, item) == "new"


def test_repeated_wrong_passwords_lock_the_account(app: FastAPI, users: dict[str, int],
                                                   sessions: sessionmaker[Session]) -> None:
    with TestClient(app) as client:
        csrf = csrf_of(client.get("/login").text)
        for _ in range(5):
            bad = client.post("/login", data={"name": "viewer", "password": "nope", "csrf_token": csrf})
            assert bad.status_code == 401 and "Wrong name or password" in bad.text
        locked = client.post("/login", data={"name": "viewer", "password": PASSWORD, "csrf_token": csrf})
        # A locked account answers exactly like an unknown name: which names exist is not revealed.
        for _ in range(5):
            client.post("/login", data={"name": "nobody", "password": "nope", "csrf_token": csrf})
        unknown = client.post("/login", data={"name": "nobody", "password": "x", "csrf_token": csrf})
        assert locked.status_code == unknown.status_code == 401
        assert _error_of(locked.text) == _error_of(unknown.text) and "Wrong name or password" in locked.text
    with sessions() as session:
        user = session.exec(select(User).where(User.name == "viewer")).one()
        assert user.locked_until is not None
        failures = session.exec(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
        assert len(failures) == 5
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "auth.login_locked")).one()


def _error_of(html: str) -> str:
    start = html.index('class="msg')
    return html[start:html.index("</p>", start)]


def test_hostile_post_is_escaped_and_evidence_highlighted(client_for: Clients, seeded: Seeded) -> None:
    client, _ = client_for("viewer")
    html = client.get(f"/items/{seeded.hostile}").text
    assert "<script>window.__pwned" not in html and "onerror=\"window" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<mark>избили</mark>" in html and "<mark>Драка</mark>" in html
    assert "javascript:" not in html
    assert '<a href="https://cdn.example/p.jpg" rel="noopener noreferrer" target="_blank">' in html
    snapshot = client.get(f"/items/{seeded.hostile}/snapshots/{seeded.snapshot_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;archived page body" in snapshot
    queue = client.get("/").text
    assert "&lt;script&gt;window.__pwned" in queue and "<script>window" not in queue


def test_views_of_evidence_are_audited(client_for: Clients, seeded: Seeded, sessions: sessionmaker[Session]) -> None:
    client, _ = client_for("viewer")
    client.get(f"/items/{seeded.hostile}")
    client.get(f"/items/{seeded.hostile}/snapshots/{seeded.snapshot_id}")
    client.get(f"/api/items/{seeded.hostile}")
    with sessions() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.entity_id == seeded.hostile,
                                                       AuditEvent.entity_type == "queue_item",
                                                       AuditEvent.actor == "viewer")).all()
    assert sorted(e.action for e in events) == ["item.view", "item.view", "snapshot.view"]
    history = client.get(f"/items/{seeded.hostile}").text
    assert "viewed the snapshot" in history


def test_queue_filters_counts_and_pages(client_for: Clients, seeded: Seeded) -> None:
    client, _ = client_for("viewer")
    talgar = client.get("/api/items", params={"district": "Talgar"}).json()
    assert {i["district"] for i in talgar["items"]} == {"Talgar"} and talgar["total"] == 3
    assert talgar["items"][0]["id"] == seeded.hostile  # high severity first
    vk = client.get("/api/items", params={"platform": "vk", "category": "bullying"}).json()
    assert sorted(i["id"] for i in vk["items"]) == sorted(seeded.karasai)
    video = client.get("/api/items", params={"has_video": "yes"}).json()
    assert [i["id"] for i in video["items"]] == [seeded.hostile]
    none = client.get("/api/items", params={"date_from": "2030-01-01"}).json()
    assert none["total"] == 0
    bad = client.get("/api/items", params={"severity": "enormous"})
    assert bad.status_code == 400 and "severity must be one of" in bad.json()["detail"]
    page = client.get("/", params={"district": "Karasai"}).text
    assert page.count('class="row ') == 2 and '<strong id="total">2</strong>' in page


def test_claim_next_follows_the_filters(client_for: Clients, seeded: Seeded) -> None:
    client, csrf = client_for("moderator")
    response = client.post("/queue/claim-next", data={"district": "Karasai", "csrf_token": csrf},
                           follow_redirects=False)
    assert response.headers["location"] in {f"/items/{i}" for i in seeded.karasai}
    api = client.post("/api/claim-next", params={"district": "Nowhere"}, headers={"X-CSRF-Token": csrf})
    assert api.json() == {"id": None}


def test_bulk_dismiss_reports_refusals(client_for: Clients, seeded: Seeded, sessions: sessionmaker[Session]) -> None:
    holder, csrf_h = client_for("moderator2")
    holder.post(f"/items/{seeded.karasai[0]}/claim", data={"csrf_token": csrf_h})
    client, csrf = client_for("moderator")
    ids = [str(i) for i in seeded.karasai]
    response = client.post("/queue/bulk", data={"action": "dismissed", "reason": "not_violence", "ids": ids,
                                                "csrf_token": csrf, "back": "/?district=Karasai"})
    assert "1 item: dismissed" in response.text and "claimed by moderator2" in response.text
    assert _status(sessions, seeded.karasai[1]) == "dismissed"
    assert _status(sessions, seeded.karasai[0]) == "in_review"


def test_api_tokens_authenticate_without_cookies(app: FastAPI, users: dict[str, int], seeded: Seeded,
                                                 sessions: sessionmaker[Session]) -> None:
    token = create_api_token(sessions, "moderator", label="collector")
    with TestClient(app) as client:
        listed = client.get("/api/items", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()["total"] == 5
        assert client.get("/api/items", headers={"Authorization": "Bearer smt_wrong"}).status_code == 401
        decided = client.post(f"/api/items/{seeded.talgar[1]}/decide", json={"status": "confirmed"},
                              headers={"Authorization": f"Bearer {token}"})
        assert decided.status_code == 200, decided.text
    viewer_token = create_api_token(sessions, "viewer")
    with TestClient(app) as client:
        refused = client.post(f"/api/items/{seeded.talgar[2]}/decide", json={"status": "confirmed"},
                              headers={"Authorization": f"Bearer {viewer_token}"})
    assert refused.status_code == 403


def test_logout_ends_the_session_and_next_cannot_leave_the_site(app: FastAPI, users: dict[str, int]) -> None:
    with TestClient(app) as client:
        csrf = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"name": "viewer", "password": PASSWORD, "csrf_token": csrf,
                                               "next": "//evil.example/x"}, follow_redirects=False)
        assert response.headers["location"] == "/"
        csrf = csrf_of(client.get("/").text)
        saved = dict(client.cookies)
        client.post("/logout", data={"csrf_token": csrf})
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
        # A cookie copied before the logout no longer works: the session ended on the server too.
        client.cookies.clear()
        client.cookies.update(saved)
        again = client.get("/", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_dashboard_shows_precision_from_decisions(client_for: Clients, seeded: Seeded) -> None:
    client, csrf = client_for("moderator")
    client.post(f"/items/{seeded.karasai[0]}/decide", data={"status": "confirmed", "csrf_token": csrf})
    client.post(f"/items/{seeded.karasai[1]}/decide", data={"status": "dismissed", "reason": "not_violence",
                                                            "csrf_token": csrf})
    # A duplicate was a right flag, already seen: it does not count against precision.
    client.post(f"/items/{seeded.talgar[1]}/decide", data={"status": "dismissed", "reason": "duplicate",
                                                           "csrf_token": csrf})
    html = client.get("/dashboard").text
    assert "<td>bullying</td><td><code>kw-1</code></td><td>2</td><td>1</td><td>50%</td>" in html
    assert "<td>physical violence</td><td><code>kw-1</code>" not in html
    assert "<svg" in html and "Karasai" in html
    heat = html[html.index("By district and week"):html.index("By category and week")]
    assert "<th>Talgar</th>" in heat and "<th>Karasai</th>" in heat
    assert '<td class="shade-4">3</td>' in heat  # Talgar: 3 flagged this week, none confirmed
    assert "2 / 1" in html[html.index("By category and week"):]  # bullying: 2 flagged, 1 confirmed


def test_dashboard_compares_model_versions(client_for: Clients, seeded: Seeded, sessions: sessionmaker[Session]) -> None:
    # Two items scored by a newer model: the dashboard shows each version's precision over every category.
    with transaction(sessions) as session:
        for item_id in seeded.talgar[1:]:
            item = session.get(QueueItem, item_id)
            assert item is not None
            item.model_version = "kw-2"
            session.add(item)
    client, csrf = client_for("moderator")
    client.post(f"/items/{seeded.karasai[0]}/decide", data={"status": "confirmed", "csrf_token": csrf})
    client.post(f"/items/{seeded.talgar[0]}/decide", data={"status": "escalated", "csrf_token": csrf})
    client.post(f"/items/{seeded.karasai[1]}/decide", data={"status": "dismissed", "reason": "not_violence",
                                                            "csrf_token": csrf})
    client.post(f"/items/{seeded.talgar[1]}/decide", data={"status": "confirmed", "csrf_token": csrf})
    client.post(f"/items/{seeded.talgar[2]}/decide", data={"status": "dismissed", "reason": "old_news",
                                                           "csrf_token": csrf})
    with sessions() as session:
        rows = [(r.category, r.model_version, r.decided, r.confirmed) for r in stats.precision_by_model(session)]
    assert rows == [(None, "kw-1", 3, 2), (None, "kw-2", 1, 1)]
    html = client.get("/dashboard").text
    table = html[html.index('id="precision-models"'):html.index("</table>", html.index('id="precision-models"'))]
    assert "<td><code>kw-1</code></td><td>3</td><td>2</td><td>67%</td>" in table
    assert "<td><code>kw-2</code></td><td>1</td><td>1</td><td>100%</td>" in table
