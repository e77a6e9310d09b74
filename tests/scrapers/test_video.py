"""Video pages through yt-dlp: golden parses of recorded info dicts, the fetch loop with an injected extractor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from monitor.core.config import HttpSettings
from monitor.core.errors import ConfigError, ScrapeError
from scrapers import PLATFORMS
from scrapers.video import (
    PrivateTarget,
    UnsupportedTarget,
    VideoScraper,
    describe_error,
    parse,
    post_from_info,
    ytdlp_extractor,
)
from tests.scrapers.helpers import Recorded, expected, fixture, http_client, source

TIKTOK = "https://www.tiktok.com/@zhest_tk_test"
CHANNEL = "https://www.youtube.com/@mektep_test/videos"


def info(rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture(rel))
    return data


@pytest.mark.parametrize("rel", ["video/tiktok_user.json", "video/vidAAAAAAA1.info.json"])
def test_golden(rel: str) -> None:
    want = expected(rel.split(".")[0] + ".json")
    posts, cursor = parse(fixture(rel), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor is None


def test_details() -> None:
    posts, _ = parse(fixture("video/tiktok_user.json"), TIKTOK)
    assert [p.media[0].duration_s for p in posts] == [24, 9, 42]
    assert all(p.has_video and p.published_at.tzinfo is not None for p in posts)
    # yt-dlp -j prints one video per line: the same posts come out.
    lines = "\n".join(json.dumps(e) for e in info("video/tiktok_user.json")["entries"])
    assert [p.external_id for p in parse(lines, TIKTOK)[0]] == [p.external_id for p in posts]
    youtube = post_from_info(info("video/vidAAAAAAA1.info.json"))
    assert youtube is not None and youtube.external_id == "youtube:vidAAAAAAA1"
    assert youtube.text == "Буллинг в школе: что делать родителям\n\nРазговор с психологом школы №5 г. Талгар."
    assert youtube.published_at.isoformat() == "2025-11-28T00:00:00+00:00"
    # A flat entry has no upload time: it is no post by itself.
    assert parse(fixture("video/youtube_channel_flat.json"), CHANNEL) == ([], None)


def test_bad_files() -> None:
    assert parse(b"", "u") == ([], None)
    with pytest.raises(ScrapeError, match="not a yt-dlp info JSON"):
        parse(b"{cut", "u")
    with pytest.raises(ScrapeError, match="expected objects"):
        parse(b"[1, 2]", "u")


class Extractor:
    """Recorded info dicts by URL; raises what yt-dlp would for the others."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, url: str, flat: bool) -> Mapping[str, Any]:
        self.calls.append((url, flat))
        answer = self.answers.get(url)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            error, message = describe_error(f"ERROR: [youtube] {url}: Private video. Sign in if you've been granted access")
            raise error(message, url=url)
        result: Mapping[str, Any] = answer
        return result


def scraper(extractor: Extractor, target: str = TIKTOK, **options: Any) -> VideoScraper:
    return VideoScraper(source("vid", "video", target, options=options), http_client(Recorded({})), HttpSettings(),
                        extractor=extractor)


def test_account_listing_one_post_per_video_and_cursor_of_seen_ids() -> None:
    extractor = Extractor({TIKTOK: info("video/tiktok_user.json")})
    [page] = list(scraper(extractor).pages({}))
    assert extractor.calls == [(TIKTOK, True)]  # full entries: no per-video request
    assert [p.external_id for p in page.posts] == [f"tiktok:744000000000000000{n}" for n in (3, 2, 1)]
    assert page.cursor == {"seen": [f"tiktok:744000000000000000{n}" for n in (3, 2, 1)]}
    snap = page.posts[0].snapshot
    assert snap is not None and json.loads(snap.body)["listing"]["id"] == "MS4wLjABAAAAtest"
    # The next run: one new video on top, the rest seen.
    newer = info("video/tiktok_user.json")
    newer["entries"] = [{**newer["entries"][0], "id": "7440000000000000004", "timestamp": 1764600000}, *newer["entries"]]
    [page2] = list(scraper(Extractor({TIKTOK: newer})).pages(page.cursor))
    assert [p.external_id for p in page2.posts] == ["tiktok:7440000000000000004"]
    assert page2.cursor["seen"][0] == "tiktok:7440000000000000004" and len(page2.cursor["seen"]) == 4


def test_flat_listing_reads_new_videos_and_skips_a_private_one() -> None:
    extractor = Extractor({
        CHANNEL: info("video/youtube_channel_flat.json"),
        "https://www.youtube.com/watch?v=vidAAAAAAA1": info("video/vidAAAAAAA1.info.json"),
        "https://www.youtube.com/watch?v=vidBBBBBBB2": info("video/vidBBBBBBB2.info.json"),
    })
    [page] = list(scraper(extractor, target=CHANNEL).pages({"seen": []}))
    assert [p.external_id for p in page.posts] == ["youtube:vidAAAAAAA1", "youtube:vidBBBBBBB2"]
    assert extractor.calls[1:] == [(f"https://www.youtube.com/watch?v=vid{x}", False)
                                   for x in ("AAAAAAA1", "BBBBBBB2", "PRIVATE3")]
    assert len(page.notes) == 1 and "private" in page.notes[0] and "source vid" in page.notes[0]
    # Seen videos are not read again.
    again = Extractor({CHANNEL: info("video/youtube_channel_flat.json")})
    [page2] = list(scraper(again, target=CHANNEL).pages(page.cursor))
    assert page2.posts == () and again.calls == [(CHANNEL, True), (
        "https://www.youtube.com/watch?v=vidPRIVATE3", False)]


def test_max_videos_caps_the_listing() -> None:
    [page] = list(scraper(Extractor({TIKTOK: info("video/tiktok_user.json")}), max_videos=2).pages({}))
    assert len(page.posts) == 2


def test_empty_account() -> None:
    empty = {**info("video/tiktok_user.json"), "entries": []}
    [page] = list(scraper(Extractor({TIKTOK: empty})).pages({}))
    assert page.posts == () and page.cursor == {"seen": []}


def test_private_and_unsupported_targets_are_clear_source_errors() -> None:
    with pytest.raises(PrivateTarget, match="private") as info_:
        list(scraper(Extractor({})).pages({}))
    assert "source vid" in str(info_.value)
    error, message = describe_error("ERROR: Unsupported URL: https://example.kz/page")
    unsupported = Extractor({"https://example.kz/page": error(message, url="https://example.kz/page")})
    with pytest.raises(UnsupportedTarget, match="not a page yt-dlp supports"):
        list(scraper(unsupported, target="https://example.kz/page").pages({}))


def test_real_yt_dlp_refuses_an_unsupported_url_without_network() -> None:
    # yt-dlp's generic extractor would fetch the page: a file URL is refused before any request.
    extract = ytdlp_extractor(HttpSettings(), 5)
    with pytest.raises(ScrapeError, match="yt-dlp|supports"):
        extract("file:///nonexistent/page.html", True)


def test_bad_configuration_and_registry() -> None:
    with pytest.raises(ConfigError, match=r"sources\[vid\]\.target"):
        scraper(Extractor({}), target="@zhest_tk_test")
    assert PLATFORMS["video"].scraper is VideoScraper
