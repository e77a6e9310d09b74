"""VK API: golden parses, wall paging and cursor, keyword search, error codes, retry on rate limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError, ScrapeError
from scrapers.vk import VkApiError, VkScraper, parse
from tests.scrapers.helpers import Recorded, expected, fixture, http_client, source

WALL = "api.vk.com/method/wall.get"
SEARCH = "api.vk.com/method/newsfeed.search"
TOKEN = SecretStr("vk-test-token")


def api(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"Content-Type": "application/json; charset=utf-8"})


@pytest.mark.parametrize("rel", ["vk/wall_get.json", "vk/newsfeed_search.json"])
def test_golden(rel: str) -> None:
    want = expected(rel)
    posts, cursor = parse(fixture(rel), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor == want["next_cursor"]


def test_repost_text_and_media_come_from_the_original() -> None:
    posts, _ = parse(fixture("vk/wall_get.json"), WALL)
    repost = next(p for p in posts if p.external_id == "-170001_354")
    assert "олимпиаде" in repost.text and repost.extras["repost_of"] == "-180002_77"
    assert repost.has_video and repost.media[0].duration_s == 95


def test_error_response_and_malformed_json() -> None:
    with pytest.raises(VkApiError, match="access denied") as info:
        parse(fixture("vk/error_access_denied.json"), WALL)
    assert info.value.code == 15
    with pytest.raises(ScrapeError, match="not JSON"):
        parse(fixture("vk/malformed.json"), WALL)
    with pytest.raises(ScrapeError, match="no response.items"):
        parse(b'{"response": {"items": 5}}', WALL)


def scraper(recorded: Recorded, token: SecretStr | None = TOKEN, max_pages: int = 5, **options: Any) -> VkScraper:
    settings = HttpSettings(vk_token=token, max_retries=2)
    return VkScraper(source("vk_school12", "vk", "school12_konaev", max_pages=max_pages, options=options),
                     http_client(recorded, max_retries=2), settings)


def wall_pages(request: httpx.Request) -> httpx.Response:
    offset = request.url.params.get("offset")
    return api(fixture("vk/wall_get.json" if offset == "0" else "vk/wall_get_page2.json"))


def test_wall_pages_until_a_short_page_and_saves_the_newest_id_last() -> None:
    recorded = Recorded({WALL: wall_pages})
    pages = list(scraper(recorded, count=4).pages({}))
    assert [len(p.posts) for p in pages] == [4, 2]
    assert pages[0].cursor == {} and pages[1].cursor == {"last_id": 355}
    params = recorded.requests[0].url.params
    assert params["domain"] == "school12_konaev" and params["access_token"] == "vk-test-token"
    assert params["v"] and params["extended"] == "1"
    # The token must never end up in stored evidence.
    snap = pages[0].posts[0].snapshot
    assert snap is not None and "vk-test-token" not in snap.url


def test_wall_second_run_takes_only_newer_posts_and_stops() -> None:
    recorded = Recorded({WALL: wall_pages})
    pages = list(scraper(recorded, count=4).pages({"last_id": 354}))
    assert len(recorded.requests) == 1
    assert [p.external_id for p in pages[0].posts] == ["-170001_355"]
    assert pages[0].cursor == {"last_id": 355}


def test_rate_limit_error_is_retried() -> None:
    answers = iter([api(fixture("vk/error_too_many.json")), api(fixture("vk/wall_get_page2.json"))])
    recorded = Recorded({WALL: lambda r: next(answers)})
    pages = list(scraper(recorded).pages({}))
    assert len(recorded.requests) == 2 and len(pages[0].posts) == 2


def test_final_errors_name_the_source_and_code() -> None:
    recorded = Recorded({WALL: api(fixture("vk/error_access_denied.json"))})
    with pytest.raises(VkApiError, match=r"source vk_school12.*VK API error 15: access denied") as info:
        list(scraper(recorded).pages({}))
    assert len(recorded.requests) == 1 and info.value.code == 15
    assert "vk-test-token" not in str(info.value)


def test_missing_token_is_a_clear_error() -> None:
    with pytest.raises(ScrapeError, match="MONITOR_VK_TOKEN"):
        list(scraper(Recorded({}), token=None).pages({}))


def test_keyword_search_pages_with_next_from_and_keeps_the_newest_time() -> None:
    calls: list[str | None] = []

    def search(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params.get("start_from"))
        if request.url.params.get("start_from"):
            return api(b'{"response": {"count": 0, "items": []}}')
        return api(fixture("vk/newsfeed_search.json"))

    recorded = Recorded({SEARCH: search})
    vk = VkScraper(source("vk_bullying", "vk", "буллинг школа", options={"mode": "search"}),
                   http_client(recorded), HttpSettings(vk_token=TOKEN))
    pages = list(vk.pages({"since": 1793000000}))
    assert calls == [None, "2/-170001_355"]
    assert recorded.requests[0].url.params["q"] == "буллинг школа"
    assert recorded.requests[0].url.params["start_time"] == "1793000001"
    assert pages[-1].cursor == {"since": 1793100000}


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="options.mode"):
        scraper(Recorded({}), mode="html")
    with pytest.raises(ConfigError, match="options.count: expected 1..100"):
        scraper(Recorded({}), count=500)
