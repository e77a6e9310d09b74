"""One module per platform; REGISTRY maps a source's `platform` to its scraper class and parse function."""

from __future__ import annotations

from collections.abc import Callable

from monitor.posts import Post
from scrapers import generic, instagram, news, telegram, telegram_comments, video, vk, youtube
from scrapers.base import Page, Scraper, ScraperFactory

Parse = Callable[[bytes | str, str], tuple[list[Post], str | None]]

REGISTRY: dict[str, ScraperFactory] = {
    "telegram": telegram.TelegramScraper,
    "vk": vk.VkScraper,
    "youtube": youtube.YoutubeScraper,
    "news": news.NewsScraper,
    "generic": generic.GenericScraper,
    "instagram": instagram.InstagramScraper,
    "video": video.VideoScraper,
}

# The pure parse function of each platform, for `monitor parse` and the benchmark.
PARSERS: dict[str, Parse] = {
    "telegram": telegram.parse,
    "vk": vk.parse,
    "youtube": youtube.parse,
    "news": news.parse,
    "generic": generic.parse,
    "instagram": instagram.parse,
    "video": video.parse,
    # A saved discussion widget (t.me/<channel>/<id>?embed=1&discussion=1); pass --url with the post's URL.
    "telegram-comments": telegram_comments.parse,
}

__all__ = ["PARSERS", "REGISTRY", "Page", "Parse", "Scraper", "ScraperFactory"]
