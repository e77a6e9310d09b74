"""Generic pages: CSS selectors from config, charsets, undated items, seen items, robots.txt."""

from __future__ import annotations

import httpx
import pytest

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError
from monitor.ingest.http import RobotsDisallowed
from scrapers.generic import GenericScraper, parse, parse_date
from tests.scrapers.helpers import Recorded, fixture, http_client, source

PAGE = "https://school3.example.kz/news"
SELECTORS = {"item": ".news-item", "text": ".body", "date": ".date", "link": "a.title"}


def scraper(recorded: Recorded, **options: object) -> GenericScraper:
    return GenericScraper(source("school3", "generic", PAGE, options={**SELECTORS, **options}),
                          http_client(recorded), HttpSettings())


@pytest.mark.parametrize("rel", ["generic/school_news.html", "generic/school_news_cp1251.html"])
def test_items_with_dates_in_either_charset(rel: str) -> None:
    posts, cursor = parse(fixture(rel), PAGE, SELECTORS)
    assert cursor is None
    assert [(p.external_id, p.published_at.isoformat()) for p in posts] == [
        ("https://school3.example.kz/news/14", "2026-10-20T10:30:00+00:00"),  # 15:30 in Almaty
        ("https://school3.example.kz/news/13", "2026-10-17T19:00:00+00:00"),
    ]
    assert posts[0].text == "Подведены итоги первой четверти. Отличников стало больше."


def test_parse_date() -> None:
    assert parse_date("2026-10-20T15:30:00+05:00") is not None
    assert parse_date("20.10.2026") is not None
    assert parse_date("вчера") is None


def test_fetch_loop_stamps_undated_items_and_skips_seen_ones() -> None:
    recorded = Recorded({
        "school3.example.kz/robots.txt": httpx.Response(404),
        "school3.example.kz/news": httpx.Response(200, content=fixture("generic/school_news_cp1251.html"),
                                                  headers={"Content-Type": "text/html"}),
    })
    first = next(iter(scraper(recorded).pages({})))
    assert len(first.posts) == 3
    undated = first.posts[2]
    assert undated.extras["date_source"] == "fetched" and undated.url == "https://other.example.kz/post/9"
    assert undated.snapshot is not None and undated.published_at == undated.snapshot.fetched_at
    again = next(iter(scraper(recorded).pages(first.cursor)))
    assert again.posts == ()


def test_robots_disallow_stops_the_source() -> None:
    recorded = Recorded({"school3.example.kz/robots.txt": httpx.Response(200, text="User-agent: *\nDisallow: /\n")})
    with pytest.raises(RobotsDisallowed):
        list(scraper(recorded).pages({}))
    assert recorded.paths() == ["school3.example.kz/robots.txt"]


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match="options.item: the CSS selector"):
        GenericScraper(source("g", "generic", PAGE), http_client(Recorded({})), HttpSettings())
    with pytest.raises(ConfigError, match="options.date: bad CSS selector"):
        scraper(Recorded({}), date="span[[")
