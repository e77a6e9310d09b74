"""The interface in the reader's language and the triage fixes, in-process: language choice, plurals,
dates, place names, claim next in the page's order, bulk with nothing chosen, claims held by others."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.confidence import confidence_band
from monitor.core.config import Settings
from monitor.core.i18n import negotiate, translator
from monitor.core.places.labels import place_label
from monitor.core.tables import User
from monitor.ingest.pipeline import Pipeline
from monitor.web import create_app
from tests.fakes import KeywordClassifier, TablePlaces
from tests.web.conftest import Seeded, csrf_of, login

Clients = Callable[[str], tuple[TestClient, str]]


@pytest.fixture
def ru_app(settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    """The app with the shipped default language (Russian)."""
    web = settings.web.model_copy(update={"session_secret": SecretStr("test-secret-" + "x" * 32)})
    ru = settings.model_copy(update={"web": web})
    return create_app(ru, sessions, pipeline=Pipeline(sessions, ru, classifier=KeywordClassifier(), places=TablePlaces()))


def test_plural_forms_dates_places_and_bands() -> None:
    ru, kk, en = translator("ru"), translator("kk"), translator("en")
    forms = [ru.ngettext("%(num)d failure in a row", "%(num)d failures in a row", n) % {"num": n}
             for n in (1, 2, 5, 21, 112)]
    assert forms == ["1 ошибка подряд", "2 ошибки подряд", "5 ошибок подряд", "21 ошибка подряд",
                     "112 ошибок подряд"]
    assert kk.ngettext("%(num)d post", "%(num)d posts", 5) % {"num": 5} == "5 жарияланым"
    assert [place_label("Talgar", lang) for lang in ("ru", "kk", "en")] == ["Талгар", "Талғар", "Talgar"]
    assert [place_label("School No. 3", lang) for lang in ("ru", "kk", "en")] == ["школа №3", "№3 мектеп",
                                                                                  "School No. 3"]
    assert place_label("Unknown Village", "kk") == "Unknown Village"
    from datetime import UTC, datetime

    assert ru.dt(datetime(2026, 1, 31, 7, 5, tzinfo=UTC)) == "31.01.2026 12:05"  # Asia/Almaty
    assert en.label("band", confidence_band(0.6)) == "possible" and ru.label("status", "in_review") == "на проверке"
    assert ru.label("band", confidence_band(0.97)) == "очень вероятно" and ru.label("band", None) == "—"
    assert ru.error("ConnectError: [Errno -2] Name or service not known") == "адрес сайта не найден (DNS)"
    assert (negotiate("en-US,en;q=0.9,kk;q=0.95"), negotiate("de-DE, kk-KZ;q=0.5"), negotiate("de")) == (
        "en", "kk", None)


def test_sign_in_page_language_from_accept_language_then_default(ru_app: FastAPI) -> None:
    with TestClient(ru_app) as client:
        assert '<html lang="kk">' in client.get("/login", headers={"Accept-Language": "kk-KZ,ru;q=0.5"}).text
        assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "en-GB"}).text
        page = client.get("/login", headers={"Accept-Language": "de-DE"}).text
        assert '<html lang="ru">' in page and "Вход" in page


def test_language_choice_is_kept_on_the_account(ru_app: FastAPI, users: dict[str, int], seeded: Seeded,
                                                sessions: sessionmaker[Session]) -> None:
    with TestClient(ru_app) as client:
        csrf = login(client, "moderator")
        queue = client.get("/").text
        assert '<html lang="ru">' in queue and "Талгар" in queue and "Очередь" in queue
        client.post("/profile/language", data={"language": "kk", "csrf_token": csrf},
                    headers={"Referer": "http://testserver/?district=Talgar"})
        page = client.get("/").text
        assert '<html lang="kk">' in page and "Кезек" in page and "Талғар" in page
        with sessions() as session:
            user = session.get(User, users["moderator"])
            assert user is not None and user.language == "kk"
    # A new browser of the same user gets the same language.
    with TestClient(ru_app) as other:
        login(other, "moderator")
        assert '<html lang="kk">' in other.get("/dashboard").text


def test_reversed_date_range_is_an_error_in_the_readers_language(ru_app: FastAPI, users: dict[str, int]) -> None:
    with TestClient(ru_app) as client:
        login(client, "viewer")
        response = client.get("/", params={"date_from": "31.01.2026", "date_to": "01.01.2026"})
        assert response.status_code == 400 and "Даты перепутаны" in response.text
        ok = client.get("/", params={"date_from": "01.01.2026", "date_to": "31.01.2026"})
        assert ok.status_code == 200 and 'value="01.01.2026"' in ok.text


def test_claim_next_takes_the_item_shown_first(client_for: Clients, seeded: Seeded) -> None:
    client, csrf = client_for("moderator")
    newest_first = client.get("/", params={"sort": "newest"}).text
    shown_first = int(newest_first.split('data-id="', 1)[1].split('"', 1)[0])
    response = client.post("/queue/claim-next", data={"csrf_token": csrf, "sort": "newest"}, follow_redirects=False)
    assert response.headers["location"] == f"/items/{shown_first}" == f"/items/{seeded.karasai[-1]}"


def test_bulk_with_nothing_chosen_changes_nothing_and_keeps_the_filters(client_for: Clients, seeded: Seeded) -> None:
    client, csrf = client_for("moderator")
    back = "/?district=Talgar"
    response = client.post("/queue/bulk", data={"csrf_token": csrf, "action": "", "ids": [seeded.talgar[0]],
                                                "back": back}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == back
    assert "Choose a bulk action first; nothing was changed." in client.get(back).text
    response = client.post("/queue/bulk", data={"csrf_token": csrf, "action": "confirmed", "back": back},
                           follow_redirects=False)
    assert response.headers["location"] == back
    page = client.get(back).text
    assert "Tick at least one item; nothing was changed." in page and 'option value="" selected' in page


def test_item_claimed_by_another_shows_their_name_and_disabled_buttons(client_for: Clients, seeded: Seeded) -> None:
    holder, csrf = client_for("moderator2")
    holder.post(f"/items/{seeded.talgar[1]}/claim", data={"csrf_token": csrf})
    other, _ = client_for("moderator")
    page = other.get(f"/items/{seeded.talgar[1]}").text
    assert "moderator2 is working on this item" in page
    assert '<button id="confirm" disabled>' in page and '<button id="escalate" disabled>' in page
    # No [alerts] recipients in the test settings: escalating says nobody will be alerted.
    assert 'id="no-recipients"' in page


def test_confirm_with_an_inline_note_shows_in_decisions_and_history_in_words(
    client_for: Clients, seeded: Seeded
) -> None:
    client, csrf = client_for("moderator")
    client.post(f"/items/{seeded.talgar[1]}/decide",
                data={"status": "confirmed", "note": "школа уведомлена", "csrf_token": csrf})
    client.get(f"/items/{seeded.talgar[1]}")  # a view, folded away below the history
    page = client.get(f"/items/{seeded.talgar[1]}").text
    decisions = page.split('id="decisions"', 1)[1].split("</ul>", 1)[0]
    assert "moderator: confirmed" in decisions and "школа уведомлена" in decisions
    history = page.split('id="audit"', 1)[1].split("</ul>", 1)[0]
    assert "moderator: confirmed" in history and "queue.decide" not in history and "item.view" not in history
    assert "1 view</summary>" in page


def test_admin_unlock_only_on_locked_users_and_deactivate_asks_first(client_for: Clients) -> None:
    client, _ = client_for("admin")
    page = client.get("/admin").text
    assert 'value="unlock"' not in page  # nobody is locked
    assert "data-confirm=" in page and 'value="deactivate"' in page


def test_the_csrf_meta_is_still_first_class(ru_app: FastAPI) -> None:
    with TestClient(ru_app) as client:
        assert csrf_of(client.get("/login").text)


def test_date_filter_uses_the_published_time(client_for: Clients, seeded: Seeded,
                                             sessions: sessionmaker[Session]) -> None:
    from datetime import UTC, datetime

    from monitor.core.db import transaction
    from monitor.core.tables import Post, QueueItem

    with transaction(sessions) as session:
        item = session.get(QueueItem, seeded.karasai[0])
        assert item is not None
        post = session.get(Post, item.post_id)
        assert post is not None
        post.published_at = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)  # an old post flagged this week
        session.add(post)
    client, csrf = client_for("moderator")
    page = client.get("/", params={"date_from": "01.01.2025", "date_to": "31.01.2025"}).text
    assert [int(x.split('"')[0]) for x in page.split('data-id="')[1:]] == [seeded.karasai[0]]
    assert "10.01.2025 14:00" in page  # published, Almaty time
    # Claim next honours the same published-time filter.
    response = client.post("/queue/claim-next", data={"csrf_token": csrf, "date_from": "01.01.2025",
                                                      "date_to": "31.01.2025"}, follow_redirects=False)
    assert response.headers["location"] == f"/items/{seeded.karasai[0]}"


def test_csv_export_of_the_current_view_is_audited_and_safe_in_spreadsheets(
    ru_app: FastAPI, users: dict[str, int], seeded: Seeded, sessions: sessionmaker[Session]
) -> None:
    import csv
    import io

    from sqlmodel import select

    from monitor.core.db import transaction
    from monitor.core.tables import AuditEvent, Post, QueueItem

    with transaction(sessions) as session:
        item = session.get(QueueItem, seeded.karasai[0])
        assert item is not None
        post = session.get(Post, item.post_id)
        assert post is not None
        post.text = "=HYPERLINK(\"http://evil.example\") буллинг"
        session.add(post)
    with TestClient(ru_app) as client:
        login(client, "viewer")
        response = client.get("/queue.csv", params={"district": "Karasai", "sort": "oldest"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Элемент", "Серьёзность", "Уверенность"]
    assert [int(r[0]) for r in rows[1:]] == seeded.karasai
    assert rows[1][4:6] == ["Алматинская область", "Карасай"] and rows[1][-1].startswith("'=HYPERLINK")
    with TestClient(ru_app) as client:
        login(client, "viewer")
        book = client.get("/queue.xlsx", params={"district": "Karasai", "sort": "oldest"})
    assert book.status_code == 200 and "spreadsheetml" in book.headers["content-type"]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(book.content)).active
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert cells[0][:3] == ["Элемент", "Серьёзность", "Уверенность"]
    assert [r[0] for r in cells[1:]] == seeded.karasai
    # The hostile text is kept as text, not turned into a formula.
    assert cells[1][-1].startswith("=HYPERLINK") and sheet.cell(row=2, column=len(cells[1])).data_type == "s"
    with sessions() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "queue.export")).all()
    assert [e.detail["format"] for e in events] == ["csv", "xlsx"]
    assert events[0].actor == "viewer" and events[0].detail["rows"] == 2 and events[0].detail["district"] == "Karasai"


def test_escalated_items_stay_in_the_default_open_view(client_for: Clients, seeded: Seeded) -> None:
    client, csrf = client_for("moderator")
    client.post(f"/items/{seeded.karasai[0]}/decide", data={"status": "escalated", "csrf_token": csrf})
    page = client.get("/").text
    assert f'data-id="{seeded.karasai[0]}"' in page
    assert '<span class="count">5</span>' in page.split('data-status="open"', 1)[1].split("</a>", 1)[0]


def test_full_text_search_over_post_texts(client_for: Clients, seeded: Seeded) -> None:
    client, _ = client_for("viewer")

    def ids(search: str) -> list[int]:
        response = client.get("/", params={"q": search, "sort": "oldest"})
        assert response.status_code == 200, response.text
        return [int(x.split('"')[0]) for x in response.text.split('data-id="')[1:]]

    assert ids("буллинг") == seeded.karasai  # case folded
    assert ids("избили") == seeded.talgar
    assert ids("драка школе") == [seeded.hostile]  # every word must be there
    assert ids('"); DROP TABLE post; -- NEAR(') == []  # operators in the input are words, not syntax
    assert ids("несуществующееслово") == []
    # The API takes the same parameter.
    assert [i["id"] for i in client.get("/api/items", params={"q": "буллинг"}).json()["items"]] == sorted(
        seeded.karasai, reverse=True)


def test_saved_filters_are_per_user(client_for: Clients, seeded: Seeded) -> None:
    client, csrf = client_for("moderator")
    response = client.post("/queue/saved", data={"csrf_token": csrf, "name": "Карасай, буллинг",
                                                 "query": "district=Karasai&category=bullying"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/?district=Karasai&category=bullying"
    page = client.get("/").text
    assert 'href="/?district=Karasai&amp;category=bullying" class="button">Карасай, буллинг</a>' in page
    # Saving the same name again replaces the view; a bad query is refused.
    client.post("/queue/saved", data={"csrf_token": csrf, "name": "Карасай, буллинг", "query": "district=Karasai"})
    assert client.get("/").text.count("Карасай, буллинг</a>") == 1
    assert client.post("/queue/saved", data={"csrf_token": csrf, "name": "x", "query": "severity=huge"}
                       ).status_code == 400
    other, other_csrf = client_for("moderator2")
    assert "Карасай, буллинг" not in other.get("/").text
    filter_id = int(page.split('action="/queue/saved/', 1)[1].split("/", 1)[0])
    assert other.post(f"/queue/saved/{filter_id}/delete", data={"csrf_token": other_csrf}).status_code == 404
    client.post(f"/queue/saved/{filter_id}/delete", data={"csrf_token": csrf})
    assert "Карасай, буллинг" not in client.get("/").text


def test_assigning_an_item_to_a_moderator(client_for: Clients, seeded: Seeded, users: dict[str, int]) -> None:
    client, csrf = client_for("moderator")
    target = seeded.talgar[2]
    client.post(f"/items/{target}/assign", data={"csrf_token": csrf, "assignee": users["moderator2"]})
    assert "→ moderator2" in client.get("/").text
    mine = client.get("/", params={"assignee": users["moderator2"]}).text
    assert [int(x.split('"')[0]) for x in mine.split('data-id="')[1:]] == [target]
    page = client.get(f"/items/{target}").text
    assert f'<option value="{users["moderator2"]}" selected>moderator2</option>' in page
    assert "moderator: assigned" in page.split('id="audit"', 1)[1]
    # Only to active moderators or admins; viewers cannot assign.
    assert client.post(f"/items/{target}/assign", data={"csrf_token": csrf, "assignee": users["viewer"]}
                       ).status_code == 400
    viewer, viewer_csrf = client_for("viewer")
    assert viewer.post(f"/items/{target}/assign", data={"csrf_token": viewer_csrf, "assignee": ""}).status_code == 403
    client.post(f"/items/{target}/assign", data={"csrf_token": csrf, "assignee": ""})
    assert "→ moderator2" not in client.get("/").text
