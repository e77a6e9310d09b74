"""Telegram preview pages: golden parses, paging both ways, cursors, disabled previews, the fallback host."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError, ScrapeError
from scrapers import telegram
from scrapers.telegram import TelegramScraper, channel_name, parse, parse_count, parse_duration, parse_page
from tests.scrapers.helpers import Recorded, expected, fixture, html, http_client, source

CH = "zhetysu_mektep"
PAGES = ["telegram/channel_latest.html", "telegram/channel_before_181.html", "telegram/channel_after_200.html"]


@pytest.mark.parametrize("rel", PAGES)
def test_golden_pages(rel: str) -> None:
    want = expected(rel)
    posts, cursor = parse(fixture(rel), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor == want["next_cursor"]


def test_page_details() -> None:
    page = parse_page(fixture("telegram/channel_latest.html"), f"https://t.me/s/{CH}")
    by_id = {p.external_id: p for p in page.posts}
    assert page.before == 181 and page.after is None
    assert f"{CH}/184" not in by_id  # the service message ("Channel photo updated")
    assert len(page.posts) == 19
    video = by_id[f"{CH}/182"]
    assert video.has_video and video.media[0].duration_s == 65
    assert video.media[0].thumbnail_url == "https://cdn4.example.org/file/thumb-182.jpg"
    reply = by_id[f"{CH}/194"].extras["reply_to"]
    assert reply["post"] == f"{CH}/193" and reply["text"] == "Предыдущее сообщение о собрании"
    first = by_id[f"{CH}/190"]
    assert first.text.startswith("В школе №11 города Талдыкорган прошёл классный час о дружбе.\nРодители")
    assert first.extras["links"] == ["https://example.kz/school11"]
    assert first.published_at.tzinfo is not None
    quote = by_id[f"{CH}/189"].text
    assert quote == "Конаев: в школе №10 открылся новый спортивный зал.\nЗал рассчитан на 200 учеников.\nПодробности позже."


def test_empty_and_malformed_pages() -> None:
    assert parse(b"", "https://t.me/s/x") == ([], None)
    assert parse(b"\x00\xff\xfe garbage", "https://t.me/s/x") == ([], None)
    # Cut off in the middle of the third message: the complete ones still come out.
    body = fixture("telegram/channel_before_181.html")
    cut = body[: body.index(b'data-post="zhetysu_mektep/164"') + 200]
    posts, _ = parse(cut, "https://t.me/s/x")
    assert [p.external_id for p in posts][:3] == [f"{CH}/161", f"{CH}/162", f"{CH}/163"]
    # A message without a date cannot be placed in time: it is skipped, not invented.
    no_date = body.replace(b'<time datetime="', b'<time data-x="', 1)
    assert len(parse(no_date, "https://t.me/s/x")[0]) == 19


def test_helpers() -> None:
    assert parse_count("2.81M") == 2_810_000 and parse_count("1.3K") == 1300 and parse_count("512") == 512
    assert parse_count("views") is None
    assert parse_duration("0:06") == 6 and parse_duration("1:02:03") == 3723 and parse_duration("x") is None
    assert channel_name("@zhetysu_mektep") == CH
    assert channel_name("https://t.me/s/zhetysu_mektep") == CH
    assert channel_name("t.me/zhetysu_mektep") == CH
    assert channel_name("bad name!") is None


def scraper(recorded: Recorded, max_pages: int = 5, **options: Any) -> TelegramScraper:
    return TelegramScraper(source("tg", "telegram", f"@{CH}", max_pages=max_pages, options=options),
                           http_client(recorded), HttpSettings())


def test_first_run_pages_back_with_before_and_saves_cursor_after_the_last_page() -> None:
    recorded = Recorded({
        f"t.me/s/{CH}": html(fixture(PAGES[0])),
        f"t.me/s/{CH}?before=181": html(fixture(PAGES[1])),
    })
    pages = list(scraper(recorded, max_pages=2).pages({}))
    assert recorded.paths() == [f"t.me/s/{CH}", f"t.me/s/{CH}?before=181"]
    assert [len(p.posts) for p in pages] == [19, 20]
    assert pages[0].cursor == {} and pages[1].cursor == {"last_id": 200}
    snap = pages[1].posts[0].snapshot
    assert snap is not None and snap.body == fixture(PAGES[1]) and snap.url.endswith("?before=181")
    assert snap.content_type.startswith("text/html")


def test_later_run_pages_forward_with_after() -> None:
    empty = b"<html><body><section class='tgme_channel_history'></section></body></html>"
    recorded = Recorded({
        f"t.me/s/{CH}?after=200": html(fixture(PAGES[2])),
        f"t.me/s/{CH}?after=205": html(empty),
    })
    pages = list(scraper(recorded).pages({"last_id": 200}))
    assert recorded.paths() == [f"t.me/s/{CH}?after=200", f"t.me/s/{CH}?after=205"]
    assert [p.external_id for p in pages[0].posts] == [f"{CH}/{n}" for n in range(201, 206)]
    assert pages[0].cursor == {"last_id": 205}
    assert pages[1].posts == () and pages[1].cursor == {"last_id": 205}


def test_disabled_preview_is_a_clear_source_error() -> None:
    recorded = Recorded({f"t.me/s/{CH}": httpx.Response(302, headers={"Location": f"https://t.me/{CH}"})})
    with pytest.raises(ScrapeError, match="preview is disabled") as info:
        list(scraper(recorded).pages({}))
    assert "source tg" in str(info.value)


def test_fallback_host_when_t_me_is_unreachable() -> None:
    def blocked(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("blocked", request=request)

    recorded = Recorded({f"t.me/s/{CH}": blocked, f"telegram.me/s/{CH}": html(fixture(PAGES[2]))})
    pages = list(scraper(recorded, max_pages=1).pages({}))
    assert len(pages[0].posts) == 5
    assert pages[0].posts[0].url == f"https://telegram.me/{CH}/201"
    recorded_off = Recorded({f"t.me/s/{CH}": blocked})
    with pytest.raises(ScrapeError, match="ConnectError"):
        list(scraper(recorded_off, fallback_host="").pages({}))


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match=r"sources\[tg\]\.target"):
        TelegramScraper(source("tg", "telegram", "not a channel!"), http_client(Recorded({})), HttpSettings())
    with pytest.raises(ConfigError, match=r"options\.hots: unknown option"):
        TelegramScraper(source("tg", "telegram", CH, options={"hots": "x"}), http_client(Recorded({})), HttpSettings())


def test_platform_name() -> None:
    assert TelegramScraper.platform == telegram.PLATFORM == "telegram"
