"""The admin page "Suggested sources": ranked rows, one-click add (disabled entry) and dismiss, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.db import transaction
from monitor.core.tables import AuditEvent, Classification, Post, SourceSuggestion


def _flagged(sessions: sessionmaker[Session], n: int, text: str, **extras: object) -> None:
    with transaction(sessions) as session:
        post = Post(platform="telegram", external_id=f"news_test/{n}", url=f"https://t.me/news_test/{n}", text=text,
                    published_at=datetime.now(UTC) - timedelta(days=1), content_key=f"sug-{n}", extras=dict(extras))
        session.add(post)
        session.flush()
        session.add(Classification(post_id=post.id or 0, model_version="kw-1", score=0.9, flag=True))


def test_suggestions_page_add_and_dismiss(sessions: sessionmaker[Session],
                                          client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    for n in range(3):
        _flagged(sessions, n, "Драка у школы", forwarded_from={"name": "Ж", "url": "https://t.me/zhest_fwd_test"})
    _flagged(sessions, 9, "Травля, пишите @once_named_test")
    client, csrf = client_for("admin")
    html = client.get("/admin/suggestions").text
    assert html.index("zhest_fwd_test") < html.index("once_named_test")
    assert 'href="https://t.me/s/zhest_fwd_test"' in html
    added = client.post("/admin/suggestions", data={"csrf_token": csrf, "platform": "telegram",
                                                    "handle": "zhest_fwd_test", "action": "add", "score": "4.5",
                                                    "flagged_posts": "3"}, follow_redirects=False)
    assert added.status_code == 303
    page = client.get("/admin/suggestions").text
    assert "added, disabled" in page and "enabled = false" in page
    rows = page.split('id="suggestions"')[1].split("</table>")[0]
    assert "zhest_fwd_test" not in rows and "once_named_test" in rows
    client.post("/admin/suggestions", data={"csrf_token": csrf, "platform": "telegram", "handle": "once_named_test",
                                            "action": "dismiss"})
    bad = client.post("/admin/suggestions", data={"csrf_token": csrf, "platform": "telegram", "handle": "x y",
                                                  "action": "add"}, follow_redirects=False)
    assert bad.status_code in (400, 422)
    no_csrf = client.post("/admin/suggestions", data={"platform": "telegram", "handle": "zzz_test", "action": "add"},
                          follow_redirects=False)
    assert no_csrf.status_code == 403
    with sessions() as s:
        decided = {(d.handle, d.status, d.decided_by) for d in s.exec(select(SourceSuggestion))}
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.entity_type == "source_suggestion"))]
    assert decided == {("zhest_fwd_test", "added", "admin"), ("once_named_test", "dismissed", "admin")}
    assert sorted(actions) == ["source_suggestion.add", "source_suggestion.dismiss"]
    viewer, _ = client_for("viewer")
    assert viewer.get("/admin/suggestions").status_code == 403


def test_suggestions_page_speaks_russian_and_kazakh(sessions: sessionmaker[Session],
                                                    client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    _flagged(sessions, 1, "Драка у школы", forwarded_from={"name": "Ж", "url": "https://t.me/zhest_fwd_test"})
    client, csrf = client_for("admin")
    client.post("/profile/language", data={"language": "ru", "csrf_token": csrf})
    english = ("Suggested sources", "Flagged posts", "Channel / account", "Place in name", "best first", "none yet")
    page = client.get("/admin/suggestions").text
    assert "Предлагаемые источники" in page and "Отмеченные публикации" in page and "последних 90 дн." in page
    assert not [e for e in english if e in page]
    client.post("/admin/suggestions", data={"csrf_token": csrf, "platform": "telegram", "handle": "zhest_fwd_test",
                                            "action": "add"}, follow_redirects=False)
    page = client.get("/admin/suggestions").text
    assert "telegram zhest_fwd_test: добавлено, выключено" in page and "<td>добавлено</td>" in page
    client.post("/profile/language", data={"language": "kk", "csrf_token": csrf})
    page = client.get("/admin/suggestions").text
    assert "Ұсынылған дереккөздер" in page and "Белгіленген жарияланымдар" in page and "<td>қосылды</td>" in page
    assert not [e for e in english if e in page]
