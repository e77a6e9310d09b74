"""The real flows in headless Chromium against a real uvicorn server: sign in, filter, claim, decide by
keyboard, dismiss with a reason, and a hostile post that must never run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import DatabaseSettings, Settings, WebSettings
from monitor.core.db import create_db_engine, session_factory, transaction
from monitor.core.tables import Decision, QueueItem
from monitor.review.users import create_user
from monitor.web import create_app
from tests.web.conftest import HOSTILE_TEXT, PASSWORD, add_item
from tests.web.live import free_port, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class Live:
    """A running server and the ids it was seeded with."""

    url: str
    sessions: sessionmaker[Session]
    hostile: int
    talgar: list[int]
    karasai: list[int]


@pytest.fixture
def live(sqlite_template: Path, tmp_path: Path) -> Iterator[Live]:
    """uvicorn serving the app on a free 127.0.0.1 port, on a seeded SQLite database."""
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    port = free_port()
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{path}"),
                        web=WebSettings(session_secret=SecretStr("browser-" + "s" * 40), language="en",
                                        base_url=f"http://127.0.0.1:{port}"))
    engine = create_db_engine(settings.database)
    sessions = session_factory(engine)
    create_user(sessions, "moderator", "moderator", PASSWORD)
    with transaction(sessions) as session:
        start = HOSTILE_TEXT.index("избили")
        hostile = add_item(session, 1, HOSTILE_TEXT, district="Talgar", severity="high",
                           evidence=[{"start": start, "end": start + 6, "text": "избили"}])
        talgar = [hostile] + [add_item(session, n, f"Ученика избили в школе {n}", district="Talgar")
                              for n in range(2, 4)]
        karasai = [add_item(session, n, f"Буллинг в школе {n} <b>жирный</b>", district="Karasai",
                            category="bullying", platform="vk") for n in range(4, 6)]
    with serving(create_app(settings, sessions), port) as url:
        yield Live(url, sessions, hostile, talgar, karasai)
    engine.dispose()


@pytest.fixture
def browser_page(live: Live) -> Iterator[object]:
    """A fresh Chromium page; any JavaScript dialog (alert) or console error fails the test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        dialogs: list[str] = []
        errors: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        # A CSP violation (inline script or style, a remote resource) shows up as a console error.
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield page
        browser.close()
        assert not dialogs, f"a script opened a dialog: {dialogs}"
        assert not errors, f"console errors: {errors}"


def _status(live: Live, item_id: int) -> str:
    with live.sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        return item.status


def _sign_in(page: object, live: Live) -> None:
    page.goto(live.url + "/")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("input[name=name]", "moderator")  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#queue")  # type: ignore[attr-defined]


def test_sign_in_filter_claim_confirm_by_keyboard_and_dismiss_with_reason(browser_page: object, live: Live) -> None:
    from playwright.sync_api import Page, expect

    page: Page = browser_page  # type: ignore[assignment]
    _sign_in(page, live)
    expect(page.locator("#queue tbody tr.row")).to_have_count(5)

    page.select_option("select[name=district]", "Karasai")
    page.click("#filters-box button[type=submit]")
    expect(page.locator("#queue tbody tr.row")).to_have_count(2)
    assert "district=Karasai" in page.url

    # Claim an item from its page, then confirm it with the "c" key.
    page.goto(f"{live.url}/items/{live.talgar[1]}")
    page.click("#claim")
    expect(page.locator(".claim")).to_contain_text("Claimed by moderator")
    page.keyboard.press("c")
    expect(page.locator("#item-status")).to_have_text("confirmed")
    assert _status(live, live.talgar[1]) == "confirmed"

    # On the queue: j moves the selection, d opens the reason dialog, 2 picks "not violence".
    page.goto(f"{live.url}/?district=Karasai")
    first = page.locator("#queue tbody tr.row").nth(0)
    expect(first).to_have_class("row level-medium selected")
    page.keyboard.press("j")
    second = page.locator("#queue tbody tr.row").nth(1)
    expect(second).to_have_class("row level-medium selected")
    target = int(second.get_attribute("data-id") or 0)
    page.keyboard.press("d")
    expect(page.locator("#dismiss-dialog")).to_be_visible()
    page.keyboard.press("2")
    page.click("#dismiss-ok")
    expect(second.locator(".status")).to_have_text("dismissed")
    assert _status(live, target) == "dismissed"
    with live.sessions() as session:
        decision = session.exec(select(Decision).where(Decision.queue_item_id == target)).one()
    assert decision.reason == "not_violence"

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()


def test_hostile_post_shows_as_text_and_never_runs(browser_page: object, live: Live) -> None:
    from playwright.sync_api import Page, expect

    page: Page = browser_page  # type: ignore[assignment]
    _sign_in(page, live)
    expect(page.locator("#queue")).to_contain_text("<script>window.__pwned=1</script>")
    page.goto(f"{live.url}/items/{live.hostile}")
    text = page.locator("#post-text")
    expect(text).to_contain_text('<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">')
    expect(text.locator("mark")).to_have_text("избили")
    assert text.locator("script, img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#queue b, #post-text b").count() == 0
