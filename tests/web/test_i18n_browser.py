"""Headless Chromium on the Russian and Kazakh interface: <html lang>, no English UI string on any page,
no horizontal scroll on a phone (360-430 px), and the same pages at 1400 px.

Set MONITOR_SHOTS_DIR to keep a screenshot of every page at 390 and 1400 px for a person to look at."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import DatabaseSettings, Settings, WebSettings
from monitor.core.db import create_db_engine, session_factory, transaction
from monitor.core.i18n import LOCALE_DIR, translator
from monitor.review.users import create_user
from monitor.web import create_app
from tests.web.conftest import HOSTILE_TEXT, PASSWORD, add_item
from tests.web.live import free_port, serving
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGES = ("/login", "/", "/items/{item}", "/dashboard", "/admin", "/admin/suggestions", "/docs",
         "/items/{item}/snapshots/{snapshot}", "/items/999999")


@dataclass(frozen=True)
class Site:
    """A running server configured with one default language."""

    url: str
    item: int
    snapshot: int


def _serve(path: Path, language: str) -> Iterator[Site]:
    port = free_port()
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{path}"),
                        web=WebSettings(session_secret=SecretStr("i18n-" + "s" * 40), language=language,
                                        base_url=f"http://127.0.0.1:{port}"))
    engine = create_db_engine(settings.database)
    sessions: sessionmaker[Session] = session_factory(engine)
    create_user(sessions, "aigerim", "admin", PASSWORD)
    create_user(sessions, "daulet", "moderator", PASSWORD)
    import hashlib
    import zlib

    from monitor.core.tables import Snapshot

    with transaction(sessions) as session:
        body = "<html>сохранённая страница (synthetic)</html>".encode()
        snap = Snapshot(sha256=hashlib.sha256(body).hexdigest(), url="https://t.me/chan/1", content_type="text/html",
                        size=len(body), body_z=zlib.compress(body))
        session.add(snap)
        session.flush()
        start = HOSTILE_TEXT.index("избили")
        item = add_item(session, 1, HOSTILE_TEXT + " " + "очень длинноеслово" * 8, district="Talgar",
                        severity="critical", snapshot=snap,
                        evidence=[{"start": start, "end": start + 6, "text": "избили"}],
                        media=[{"type": "video", "url": "https://t.me/chan/1?v=1", "duration_s": 30}])
        for n in range(2, 9):
            add_item(session, n, f"Ученика избили возле школы №{n}, родители обратились в полицию",
                     district=("Karasai", "Talgar", "Enbekshikazakh")[n % 3], category="bullying", platform="vk")
        assert snap.id is not None
        snapshot = snap.id
    with serving(create_app(settings, sessions), port) as url:
        yield Site(url, item, snapshot)
    engine.dispose()


@pytest.fixture(params=["ru", "kk"])
def site(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, Site]]:
    """The app with `[web] language` set to ru, then to kk."""
    path = tmp_path / "i18n.db"
    shutil.copy(sqlite_template, path)
    language = str(request.param)
    for running in _serve(path, language):
        yield language, running


def _english_phrases() -> list[str]:
    """The English catalog's UI strings (literal parts of each msgid) that the Russian catalog translates."""
    with open(LOCALE_DIR / "ru" / "LC_MESSAGES" / "messages.po", "rb") as f:
        ru = read_po(f)
    phrases = set()
    for message in ru:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if ids[0] in strings:
            continue
        for msgid in ids:
            # Config keys ("[alerts] recipients"), code and commands stay as they are in every language.
            text = re.sub(r"<code>.*?</code>|\[\[?\w+\]\]?( \w+)?|config\.toml", " ", msgid)
            text = re.sub(r"<[^>]+>", " ", text)
            for part in re.split(r"%\(\w+\)[sd]|[()\[\]:;,.?“”—/÷]", text):
                part = " ".join(part.split())
                # Short ids ("s", "to", "OK") are too common as fragments of names and code to judge alone.
                if len(part) >= 4 and re.search(r"[A-Za-z]{3}", part):
                    phrases.add(part)
    return sorted(phrases, key=len, reverse=True)


def _launch(p: object, width: int, locale: str) -> object:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # type: ignore[attr-defined]
    context = browser.new_context(viewport={"width": width, "height": 860}, locale=locale)
    return browser, context


def _sign_in(page: object, url: str, name: str) -> None:
    page.goto(url + "/login")  # type: ignore[attr-defined]
    page.fill("input[name=name]", name)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#queue")  # type: ignore[attr-defined]


def test_every_page_speaks_the_configured_language_and_fits_a_phone(site: tuple[str, Site]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    language, live = site
    english = _english_phrases()
    shots = os.environ.get("MONITOR_SHOTS_DIR")
    # A Russian- or Kazakh-speaking member of staff's browser.
    locale = {"ru": "ru-RU", "kk": "kk-KZ"}[language]
    with sync_playwright() as p:
        for width in (390, 360, 430, 1400):
            browser, context = _launch(p, width, locale)
            page = context.new_page()  # type: ignore[attr-defined]
            errors: list[str] = []
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            page.goto(live.url + "/login")
            _check(page, language, english, width, "login", shots)
            _sign_in(page, live.url, "aigerim")
            for path in PAGES[1:]:
                page.goto(live.url + path.format(item=live.item, snapshot=live.snapshot))
                _check(page, language, english, width, path.strip("/").split("/")[0] or "queue", shots,
                       suffix="-404" if "999999" in path else ("-snapshot" if "snapshots" in path else
                                                                ("-suggestions" if "suggestions" in path else "")))
            browser.close()  # type: ignore[attr-defined]
            assert [e for e in errors if "404" not in e] == [], errors


def _check(page: object, language: str, english: list[str], width: int, name: str, shots: str | None,
           suffix: str = "") -> None:
    assert page.get_attribute("html", "lang") == language, (name, width)  # type: ignore[attr-defined]
    scroll = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    if scroll > width:
        wide = page.evaluate(  # type: ignore[attr-defined]
            f"Array.from(document.querySelectorAll('body *')).filter(e => (!e.closest('.scroll') || e.closest('.scroll') === e) && (e.getBoundingClientRect().right > {width} || e.scrollWidth > e.clientWidth + 1))"
            ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + '/' + e.scrollWidth + '/' + e.clientWidth)")
        raise AssertionError(f"{name}{suffix} is {scroll} px wide at {width} px: {wide}")
    # Code (paths, parameter names, config keys) is the same in every language: left out of the comparison.
    visible = page.evaluate(  # type: ignore[attr-defined]
        "(() => { const b = document.body.cloneNode(true); b.querySelectorAll('code').forEach(c => c.remove());"
        " document.documentElement.appendChild(b); const t = b.innerText; b.remove(); return t; })()")
    # Post texts, names, codes and URLs are data, not UI: they are in the data set, not the catalog.
    found = [phrase for phrase in english if re.search(rf"(?<![\w/.\[-]){re.escape(phrase)}(?![\w/.\]-])", visible)]
    assert found == [], f"English UI strings on {name}{suffix} ({language}): {found}"
    if shots and width in (390, 1400):
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{shots}/{language}-{width}-{name}{suffix}.png", full_page=True)  # type: ignore[attr-defined]


def test_sign_in_page_follows_accept_language_then_the_user_choice_sticks(
    sqlite_template: Path, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    path = tmp_path / "lang.db"
    shutil.copy(sqlite_template, path)
    for live in _serve(path, "ru"):
        with sync_playwright() as p:
            browser, context = _launch(p, 1400, "en-US")
            page = context.new_page()  # type: ignore[attr-defined]
            page.goto(live.url + "/login")
            assert page.get_attribute("html", "lang") == "en"  # the browser asks for English
            expect(page.locator("h1")).to_have_text("Sign in")
            page.click("a[href='/login?lang=kk']")
            assert page.get_attribute("html", "lang") == "kk"
            expect(page.locator("h1")).to_have_text(translator("kk").gettext("Sign in"))
            _sign_in(page, live.url, "daulet")
            assert page.get_attribute("html", "lang") == "kk"
            # The switch in the header keeps the choice on the account.
            page.select_option("select[name=language]", "ru")
            page.click("form.lang-switch button")
            page.wait_for_selector("#queue")
            assert page.get_attribute("html", "lang") == "ru"
            expect(page.locator("nav.main-nav a").first).to_have_text("Очередь")
            browser.close()  # type: ignore[attr-defined]
