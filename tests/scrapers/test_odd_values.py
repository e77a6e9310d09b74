"""Issue 11: odd values in an answer make that field empty or that item skipped, never the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.core.errors import ScrapeError
from scrapers import news, telegram, vk, youtube
from tests.scrapers.helpers import expected, fixture


def test_telegram_400_digit_view_count_leaves_views_empty() -> None:
    body = fixture("telegram/channel_latest.html").replace(
        b'tgme_widget_message_views">845<', b'tgme_widget_message_views">' + b"9" * 400 + b"<", 1)
    posts, _ = telegram.parse(body, "https://t.me/s/example")
    assert len(posts) == len(expected("telegram/channel_latest.html")["posts"])
    assert sum("views" not in p.extras for p in posts) >= 1
    assert all(p.extras.get("views", 0) < 10**15 for p in posts)


def test_vk_photo_width_nan_keeps_the_post() -> None:
    data = json.loads(fixture("vk/wall_get.json"))
    width_set = False
    for item in data["response"]["items"]:
        for att in item.get("attachments") or []:
            if att.get("type") == "photo":
                for size in att["photo"]["sizes"]:
                    size["width"] = float("nan")
                    width_set = True
    assert width_set
    posts, _ = vk.parse(json.dumps(data).encode(), "https://api.vk.com/method/wall.get")
    assert len(posts) == len(expected("vk/wall_get.json")["posts"])
    assert any(m.type == "photo" for p in posts for m in p.media)


def test_vk_one_bad_item_is_skipped_not_the_page() -> None:
    data = json.loads(fixture("vk/wall_get.json"))
    data["response"]["items"][0]["copy_history"] = [{"owner_id": 1, "id": 2, "attachments": [{"type": "photo",
                                                    "photo": {"sizes": 7}}]}]
    data["response"]["profiles"] = 1
    posts, _ = vk.parse(json.dumps(data).encode(), "https://api.vk.com/method/wall.get")
    assert len(posts) == len(expected("vk/wall_get.json")["posts"])


@pytest.mark.parametrize("items", [1, "x", {"a": 1}, None])
def test_youtube_items_not_a_list_gives_no_posts(items: object) -> None:
    posts, _ = youtube.parse(json.dumps({"items": items}).encode(), "https://www.googleapis.com/youtube/v3/videos")
    assert posts == []


def test_news_feed_with_nul_byte_parses_the_rest() -> None:
    body = fixture("news/feed_rss.xml").replace(b"</title>", b"\x00</title>", 2)
    posts, _ = news.parse(body, "https://news.example.kz/rss")
    assert len(posts) == len(expected("news/feed_rss.xml")["posts"])


def test_feed_body_naming_a_local_file_is_not_opened(tmp_path: Path) -> None:
    # Before: feedparser.parse(bytes) took a short body for a file name and read that file into posts.
    local = tmp_path / "feed.xml"
    local.write_bytes(fixture("news/feed_rss.xml"))
    with pytest.raises(ScrapeError, match="not an RSS/Atom feed"):
        news.parse(str(local).encode(), "https://news.example.kz/rss")
    with pytest.raises(ScrapeError):
        news.parse_feed(b"/dev/zero", "https://news.example.kz/rss")


@pytest.mark.parametrize("ref", [b"&#xD800;", b"&#55296;", b"&#0;"])
def test_surrogate_or_nul_character_reference_in_feeds_keeps_the_feed(ref: bytes) -> None:
    rss = fixture("news/feed_rss.xml").replace(b"<title>", b"<title>" + ref, 2)
    posts, _ = news.parse(rss, "https://news.example.kz/rss")
    assert len(posts) == len(expected("news/feed_rss.xml")["posts"])
    atom = fixture("youtube/channel_feed.xml").replace(b"<title>", b"<title>" + ref, 2)
    videos, _ = youtube.parse(atom, "https://www.youtube.com/feeds/videos.xml")
    assert len(videos) == len(expected("youtube/channel_feed.xml")["posts"])
    assert all("\ud800" not in p.text for p in [*posts, *videos])
