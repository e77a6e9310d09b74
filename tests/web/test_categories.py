"""Moderators correct an item's categories on the item page (issue 14, learning from moderators)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.tables import AuditEvent, QueueItem
from tests.web.conftest import Seeded

Clients = Callable[[str], tuple[TestClient, str]]


def _item(sessions: sessionmaker[Session], item_id: int) -> QueueItem:
    with sessions() as s:
        item = s.get(QueueItem, item_id)
        assert item is not None
        return item


def test_a_moderator_corrects_categories_and_the_page_says_who(client_for: Clients, seeded: Seeded,
                                                               sessions: sessionmaker[Session]) -> None:
    item_id = seeded.talgar[1]
    client, csrf = client_for("moderator")
    before = client.get(f"/items/{item_id}").text
    assert 'id="categories-form"' in before and "As the classifier set them." in before
    response = client.post(f"/items/{item_id}/categories", follow_redirects=False,
                           data={"csrf_token": csrf, "categories": ["physical_violence", "teacher_misconduct"]})
    assert response.status_code == 303 and response.headers["location"] == f"/items/{item_id}"
    item = _item(sessions, item_id)
    assert (item.category, item.categories, item.category_corrected_by) == (
        "teacher_misconduct", ["teacher_misconduct", "physical_violence"], "moderator")
    html = client.get(f"/items/{item_id}").text
    assert "categories corrected (teacher misconduct, physical violence)" in html
    shown = html[html.index('id="item-categories"'):]
    assert shown.startswith('id="item-categories">teacher misconduct <small>(primary)</small>, physical violence')
    assert 'id="category-corrected">Corrected by moderator moderator,' in html
    assert "moderator: corrected the categories" in html
    # The API shape says it too.
    api = client.get(f"/api/items/{item_id}", headers={"Accept": "application/json"}).json()
    assert api["category_corrected_by"] == "moderator" and api["category"] == "teacher_misconduct"
    with sessions() as s:
        (event,) = s.exec(select(AuditEvent).where(AuditEvent.action == "queue.categories")).all()
    assert event.detail["before"] == ["physical_violence"]


def test_no_category_or_an_unknown_one_is_refused_and_viewers_cannot_correct(
        client_for: Clients, seeded: Seeded, sessions: sessionmaker[Session]) -> None:
    item_id = seeded.karasai[0]
    client, csrf = client_for("moderator")
    empty = client.post(f"/items/{item_id}/categories", data={"csrf_token": csrf})
    assert "Choose at least one category (dismiss the item if none applies)." in empty.text
    refused = client.post(f"/items/{item_id}/categories", data={"csrf_token": csrf, "categories": ["vandalism"]},
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "unknown category" in refused.json()["detail"]
    viewer, viewer_csrf = client_for("viewer")
    assert 'id="categories-form"' not in viewer.get(f"/items/{item_id}").text
    denied = viewer.post(f"/items/{item_id}/categories", data={"csrf_token": viewer_csrf, "categories": ["bullying"]},
                         follow_redirects=False)
    assert denied.status_code == 403
    assert _item(sessions, item_id).category_corrected_by is None


def test_the_correction_reads_in_russian_and_kazakh(client_for: Clients, seeded: Seeded) -> None:
    item_id = seeded.karasai[1]
    client, csrf = client_for("moderator")
    client.post("/profile/language", data={"language": "ru", "csrf_token": csrf})
    ru = client.post(f"/items/{item_id}/categories", data={"csrf_token": csrf,
                                                          "categories": ["bullying", "cyberbullying"]}).text
    assert f"Элемент {item_id}: категории исправлены (кибербуллинг, травля)." in ru
    assert "Исправить категории" in ru and "Исправлено модератором moderator" in ru
    assert "исправил(а) категории" in ru and "(основная)" in ru
    client.post("/profile/language", data={"language": "kk", "csrf_token": csrf})
    kk = client.get(f"/items/{item_id}").text
    assert "Санаттарды түзету" in kk and "Модератор moderator түзеткен" in kk and "санаттарды түзетті" in kk
    # The confidence band is in words of the reader's language (score 0.9: likely).
    assert "ықтимал" in kk and "likely" not in kk
