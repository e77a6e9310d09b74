"""News: RSS/Atom feeds (golden, bad dates), article extraction, robots.txt, broken articles, seen entries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError, ScrapeError
from scrapers.news import NewsScraper, parse, parse_article, parse_feed
from tests.scrapers.helpers import Recorded, expected, fixture, html, http_client, source

FEED = "https://news.example.kz/rss"
ARTICLE = "news.example.kz/obrazovanie/novaya-shkola-1200"


@pytest.mark.parametrize("rel", ["news/feed_rss.xml", "news/feed_atom.xml", "news/article.html"])
def test_golden(rel: str) -> None:
    want = expected(rel)
    posts, cursor = parse(fixture(rel), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor is None


def test_article_extraction_keeps_the_text_and_drops_the_chrome() -> None:
    article = parse_article(fixture("news/article.html"), f"https://{ARTICLE}?utm_source=tg")
    assert article.url == f"https://{ARTICLE}"
    assert "кабинеты робототехники" in article.text and "четыре школы" in article.text
    assert "Курс валют" not in article.text and "Все права защищены" not in article.text
    assert article.published_at is not None and article.published_at.isoformat() == "2026-10-21T04:30:00+00:00"


def test_feed_with_a_bad_date_keeps_the_entry() -> None:
    entries, feed_date = parse_feed(fixture("news/feed_rss.xml"), FEED)
    bad = entries[1]
    assert bad.published_at is None and feed_date is not None
    posts, _ = parse(fixture("news/feed_rss.xml"), FEED)
    assert posts[1].published_at == feed_date and posts[1].extras["date_source"] == "feed"


def test_not_a_feed() -> None:
    with pytest.raises(ScrapeError, match="not an RSS/Atom feed"):
        parse_feed(b"<html><body><h1>503 Service Unavailable</h1></body></html>", FEED)
    # An empty but valid feed is not an error.
    assert parse_feed(b'<rss version="2.0"><channel><title>t</title></channel></rss>', FEED)[0] == []


ROBOTS = httpx.Response(200, text="User-agent: *\nDisallow: /private/\n")


def feed_response(request: httpx.Request) -> httpx.Response:
    if request.headers.get("if-none-match") == '"rss1"':
        return httpx.Response(304)
    return httpx.Response(200, content=fixture("news/feed_rss.xml"),
                          headers={"Content-Type": "application/rss+xml", "ETag": '"rss1"'})


def scraper(recorded: Recorded, **options: Any) -> NewsScraper:
    return NewsScraper(source("zhetysu_news", "news", FEED, options=options), http_client(recorded), HttpSettings())


def test_feed_then_articles_oldest_first_with_evidence() -> None:
    recorded = Recorded({
        "news.example.kz/rss": feed_response,
        "news.example.kz/robots.txt": ROBOTS,
        ARTICLE: html(fixture("news/article.html")),
        "news.example.kz/obrazovanie/kamery-shkola-5": html(b"<html><body><p>short</p></body></html>"),
        "news.example.kz/obrazovanie/olimpiada-itogi": httpx.Response(404),
    })
    pages = list(scraper(recorded).pages({}))
    posts = [p for page in pages for p in page.posts]
    assert [p.url for p in posts] == [
        "https://news.example.kz/obrazovanie/olimpiada-itogi",
        "https://news.example.kz/obrazovanie/kamery-shkola-5",
        f"https://{ARTICLE}",
    ]
    broken, undated, full = posts
    # A 404 article costs nothing but its full text: the feed summary stands in, the error is noted.
    assert broken.text.endswith("Итоги областной олимпиады.") and "HTTP 404" in broken.extras["article_error"]
    assert broken.snapshot is not None and broken.snapshot.url == FEED
    assert undated.extras["date_source"] == "feed"
    assert "кабинеты робототехники" in full.text
    assert full.snapshot is not None and full.snapshot.body == fixture("news/article.html")
    assert full.media and full.media[0].url.endswith("school1200.jpg")
    assert pages[-1].cursor["validators"] == {"etag": '"rss1"'}
    assert set(pages[-1].cursor["seen"]) == {p.url for p in posts}
    assert recorded.paths().count("news.example.kz/robots.txt") == 1


def test_second_run_not_modified_and_seen_entries_skipped() -> None:
    recorded = Recorded({"news.example.kz/rss": feed_response, "news.example.kz/robots.txt": ROBOTS})
    seen = ["https://news.example.kz/obrazovanie/novaya-shkola-1200",
            "https://news.example.kz/obrazovanie/kamery-shkola-5",
            "https://news.example.kz/obrazovanie/olimpiada-itogi"]
    pages = list(scraper(recorded).pages({"validators": {"etag": '"rss1"'}, "seen": seen}))
    assert pages[0].is_not_modified and recorded.paths() == ["news.example.kz/rss"]
    pages = list(scraper(recorded).pages({"seen": seen}))
    assert [p.posts for p in pages] == [()] and pages[0].cursor["seen"] == seen


def test_robots_disallowed_article_keeps_the_summary() -> None:
    robots = httpx.Response(200, text="User-agent: *\nDisallow: /obrazovanie/\n")
    recorded = Recorded({"news.example.kz/rss": feed_response, "news.example.kz/robots.txt": robots})
    pages = list(scraper(recorded, max_articles=1).pages({}))
    post = pages[0].posts[0]
    assert post.url == f"https://{ARTICLE}" and "robots.txt disallows" in post.extras["article_error"]
    assert ARTICLE not in " ".join(recorded.paths())


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match="feed's http"):
        NewsScraper(source("n", "news", "news.example.kz"), http_client(Recorded({})), HttpSettings())
    with pytest.raises(ConfigError, match="max_articles: expected int"):
        scraper(Recorded({}), max_articles="many")
