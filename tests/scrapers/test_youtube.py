"""YouTube: channel feeds (golden, bad dates, conditional GET) and API keyword search."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError, ScrapeError
from scrapers.youtube import YoutubeScraper, iso_duration, parse, parse_feed
from tests.scrapers.helpers import Recorded, expected, fixture, http_client, source

CHANNEL = "UCabcdefghijklmnopqrstuv"
FEED = "www.youtube.com/feeds/videos.xml"
KEY = SecretStr("yt-test-key")


@pytest.mark.parametrize("rel", ["youtube/channel_feed.xml", "youtube/videos.json"])
def test_golden(rel: str) -> None:
    want = expected(rel)
    posts, cursor = parse(fixture(rel), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor is None


def test_feed_entry_with_a_bad_date_is_skipped_and_videos_are_first_class() -> None:
    posts = parse_feed(fixture("youtube/channel_feed.xml"), FEED)
    assert [p.external_id for p in posts] == ["Vid00000001", "Vid00000002"]
    assert all(p.has_video for p in posts)
    assert posts[0].extras["views"] == 1520 and posts[0].media[0].thumbnail_url
    with pytest.raises(ScrapeError, match="not a YouTube channel feed"):
        parse_feed(b"<html><body>Before you continue to YouTube</body></html>", FEED)
    # A namespace holding "}" (a byte mutation the fuzz test found) is a ScrapeError too, not lxml's ValueError.
    with pytest.raises(ScrapeError, match="root element <feed>"):
        parse_feed(b'<feed xmlns="}http://www.w3.org/2005/Atom"></feed>', FEED)
    # A feed cut off mid-entry: what is complete still comes out, nothing crashes.
    body = fixture("youtube/channel_feed.xml")
    assert [p.external_id for p in parse_feed(body[: body.index(b"<yt:videoId>Vid00000002")], FEED)] == [
        "Vid00000001"]
    assert parse_feed(b"", FEED) == []


def test_iso_duration() -> None:
    assert iso_duration("PT4M13S") == 253 and iso_duration("PT1H2M") == 3720 and iso_duration("P1D") == 86400
    assert iso_duration("PT") is None and iso_duration("4:13") is None


def test_feed_uses_conditional_get() -> None:
    def feed(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"f1"':
            return httpx.Response(304)
        return httpx.Response(200, content=fixture("youtube/channel_feed.xml"),
                              headers={"Content-Type": "application/atom+xml", "ETag": '"f1"'})

    recorded = Recorded({FEED: feed})
    yt = YoutubeScraper(source("yt", "youtube", CHANNEL), http_client(recorded), HttpSettings())
    first = list(yt.pages({}))
    assert recorded.requests[0].url.params["channel_id"] == CHANNEL
    assert len(first[0].posts) == 2 and first[0].cursor == {"validators": {"etag": '"f1"'}}
    second = list(yt.pages(first[0].cursor))
    assert second[0].is_not_modified and second[0].posts == () and second[0].cursor == first[0].cursor


def test_search_with_api_key_pages_and_fetches_details() -> None:
    def search(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        return httpx.Response(200, content=fixture("youtube/search_last.json" if token else "youtube/search.json"))

    def videos(request: httpx.Request) -> httpx.Response:
        last = request.url.params["id"] == "Srch0000003"
        return httpx.Response(200, content=fixture("youtube/videos_last.json" if last else "youtube/videos.json"))

    recorded = Recorded({"www.googleapis.com/youtube/v3/search": search,
                         "www.googleapis.com/youtube/v3/videos": videos})
    yt = YoutubeScraper(source("yt_search", "youtube", "буллинг мектеп", options={"mode": "search",
                                                                                  "languages": ["ru"]}),
                        http_client(recorded), HttpSettings(youtube_api_key=KEY))
    pages = list(yt.pages({}))
    ids = [p.external_id for page in pages for p in page.posts]
    assert ids == ["Srch0000001", "Srch0000002", "Srch0000003"]
    first = recorded.requests[0].url.params
    assert first["regionCode"] == "KZ" and first["relevanceLanguage"] == "ru" and first["key"] == "yt-test-key"
    assert recorded.requests[1].url.params["id"] == "Srch0000001,Srch0000002"
    assert all("yt-test-key" not in (p.snapshot.url if p.snapshot else "") for page in pages for p in page.posts)
    assert pages[-1].cursor["seen"][:1] == ["Srch0000003"] and pages[-1].cursor["since"]


def test_search_errors() -> None:
    cfg = source("yt_search", "youtube", "школа", options={"mode": "search"})
    with pytest.raises(ScrapeError, match="MONITOR_YOUTUBE_API_KEY"):
        list(YoutubeScraper(cfg, http_client(Recorded({})), HttpSettings()).pages({}))
    quota = Recorded({"www.googleapis.com/youtube/v3/search": httpx.Response(
        200, content=fixture("youtube/error_quota.json"))})
    with pytest.raises(ScrapeError, match="quotaExceeded"):
        list(YoutubeScraper(cfg, http_client(quota), HttpSettings(youtube_api_key=KEY)).pages({}))


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match="channel id"):
        YoutubeScraper(source("yt", "youtube", "some channel"), http_client(Recorded({})), HttpSettings())
    with pytest.raises(ConfigError, match="options.mode"):
        YoutubeScraper(source("yt", "youtube", CHANNEL, options={"mode": "x"}), http_client(Recorded({})),
                       HttpSettings())
