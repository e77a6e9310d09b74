"""Generic HTML pages (school sites, forums): items found with CSS selectors given in the source's options."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, Tag
from soupsieve import SelectorSyntaxError
from soupsieve import compile as compile_css

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError
from monitor.core.posts import Post, parse_datetime
from monitor.ingest.http import HttpClient, decode_body
from scrapers.base import Page, options, remember, with_snapshot

PLATFORM = "generic"
LOCAL_TZ = ZoneInfo("Asia/Almaty")
DEFAULT_DATE_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def _text(el: Tag) -> str:
    lines = [" ".join(line.split()) for line in el.get_text("\n").split("\n")]
    return "\n".join(line for line in lines if line)


def parse_date(value: str, formats: tuple[str, ...] = DEFAULT_DATE_FORMATS) -> datetime | None:
    """ISO 8601 with offset, or one of `formats` read as Asia/Almaty local time; None when none fits."""
    value = " ".join(value.split())
    try:
        return parse_datetime(value)
    except ValueError:
        pass
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=LOCAL_TZ).astimezone(UTC)
        except ValueError:
            continue
    return None


def parse_items(
    body: bytes | str, url: str, selectors: Mapping[str, str], date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS,
) -> list[tuple[Post, bool]]:
    """(post, has_date) for every item the selectors find; an item without a date gets the epoch until stamped."""
    soup = BeautifulSoup(decode_body(body), "lxml")
    out = []
    for item in soup.select(selectors["item"]):
        text_el = item.select_one(selectors["text"]) if selectors.get("text") else item
        text = _text(text_el) if text_el else ""
        link_el = item.select_one(selectors["link"]) if selectors.get("link") else item.find("a", href=True)
        href = link_el.get("href") if isinstance(link_el, Tag) else None
        if not text and not href:
            continue
        link = urljoin(url, str(href)) if href else None
        date_el = item.select_one(selectors["date"]) if selectors.get("date") else None
        published = None
        if isinstance(date_el, Tag):
            published = parse_date(str(date_el.get("datetime") or date_el.get("content") or date_el.get_text()),
                                   date_formats)
        # Items without their own link are told apart by their text.
        external_id = link or f"{url}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        author_el = item.select_one(selectors["author"]) if selectors.get("author") else None
        post = Post(
            platform=PLATFORM,
            external_id=external_id,
            url=link or url,
            text=text,
            published_at=published or datetime.fromtimestamp(0, UTC),
            author=_text(author_el) if isinstance(author_el, Tag) else None,
            extras={"page_url": url},
        )
        out.append((post, published is not None))
    return out


def parse(body: bytes | str, url: str, selectors: Mapping[str, str] | None = None) -> tuple[list[Post], str | None]:
    """Items of a saved page (selectors default to <article>); items without a date are left out."""
    chosen = dict(selectors or {"item": "article"})
    return [p for p, has_date in parse_items(body, url, chosen) if has_date], None


class GenericScraper:
    """One page (target URL), items by options.item / text / date / link / author CSS selectors."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings) -> None:
        self.source = source
        self.http = http
        opts = options(source, {"item": str, "text": str, "date": str, "link": str, "author": str,
                                "date_formats": list})
        if "item" not in opts:
            raise ConfigError(f"sources[{source.name}].options.item: the CSS selector of one item is required")
        for key in ("item", "text", "date", "link", "author"):
            if key in opts:
                try:
                    compile_css(opts[key])
                except SelectorSyntaxError as e:
                    raise ConfigError(f"sources[{source.name}].options.{key}: bad CSS selector: {e}") from None
        if not source.target.startswith(("http://", "https://")):
            raise ConfigError(f"sources[{source.name}].target: expected the page's http(s) URL")
        self.selectors: dict[str, str] = {k: str(opts[k]) for k in ("item", "text", "date", "link", "author")
                                          if k in opts}
        self.date_formats = tuple(str(f) for f in opts.get("date_formats", DEFAULT_DATE_FORMATS))

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """The page (conditional GET, robots.txt honoured); only items not seen before."""
        validators = cursor.get("validators") if isinstance(cursor.get("validators"), Mapping) else None
        seen = [str(x) for x in cursor.get("seen", []) if isinstance(x, str)]
        response = self.http.get(self.source.target, validators=validators, robots=True, source=self.source.name)
        if response.is_not_modified:
            yield Page(response.url, (), dict(cursor), is_not_modified=True)
            return
        posts = []
        for post, has_date in parse_items(response.body, response.url, self.selectors, self.date_formats):
            if post.external_id in seen:
                continue
            if not has_date:
                # A page that shows no dates: the first time we saw the item is the best we know.
                post = Post(post.platform, post.external_id, post.url, post.text, response.fetched_at, post.author,
                            post.media, {**post.extras, "date_source": "fetched"})
            posts.append(post)
        seen = remember(seen, [p.external_id for p in posts])
        yield Page(response.url, with_snapshot(posts, response), {"validators": response.validators, "seen": seen})
