"""One module per platform; PLATFORMS maps a source's `platform` to its scraper class and its parse function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.core.posts import Post
from scrapers import generic, news, telegram, vk, youtube
from scrapers.base import Page, Scraper, ScraperFactory

Parse = Callable[[bytes | str, str], tuple[list[Post], str | None]]


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform's scraper (the fetch loop, for the run loop) and its pure parse (for `monitor parse`)."""

    scraper: ScraperFactory
    parse: Parse


# The one registry: adding a platform is one line here.
PLATFORMS: dict[str, Platform] = {
    "telegram": Platform(telegram.TelegramScraper, telegram.parse),
    "vk": Platform(vk.VkScraper, vk.parse),
    "youtube": Platform(youtube.YoutubeScraper, youtube.parse),
    "news": Platform(news.NewsScraper, news.parse),
    "generic": Platform(generic.GenericScraper, generic.parse),
}

__all__ = ["PLATFORMS", "Page", "Parse", "Platform", "Scraper", "ScraperFactory"]
