"""One module per platform; PLATFORMS maps a source's `platform` to its scraper class and its parse function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.core.posts import Post
from scrapers import generic, instagram, news, telegram, telegram_comments, video, vk, youtube
from scrapers.base import Page, Scraper, ScraperFactory

Parse = Callable[[bytes | str, str], tuple[list[Post], str | None]]


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform's pure parse (for `monitor parse`) and its scraper (the fetch loop), when it is a source kind."""

    parse: Parse
    scraper: ScraperFactory | None = None


# The one registry: adding a platform is one line here.
PLATFORMS: dict[str, Platform] = {
    "telegram": Platform(telegram.parse, telegram.TelegramScraper),
    "vk": Platform(vk.parse, vk.VkScraper),
    "youtube": Platform(youtube.parse, youtube.YoutubeScraper),
    "news": Platform(news.parse, news.NewsScraper),
    "generic": Platform(generic.parse, generic.GenericScraper),
    "instagram": Platform(instagram.parse, instagram.InstagramScraper),
    "video": Platform(video.parse, video.VideoScraper),
    # A saved discussion widget (t.me/<channel>/<id>?embed=1&discussion=1); not a source of its own:
    # the telegram-comments job reads it for flagged posts. `monitor parse` needs --url with the post's URL.
    "telegram-comments": Platform(telegram_comments.parse),
}

__all__ = ["PLATFORMS", "Page", "Parse", "Platform", "Scraper", "ScraperFactory"]
