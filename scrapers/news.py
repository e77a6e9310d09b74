"""News sites: an RSS/Atom feed (feedparser), then each new article's main text (trafilatura)."""

from __future__ import annotations

import calendar
import dataclasses
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin

import feedparser
import htmldate
import lxml.html
import trafilatura
from lxml import etree

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Media, Post, parse_datetime
from monitor.ingest.http import HttpClient, Response, decode_body
from scrapers.base import Page, each_item, options, remember, with_snapshot, without_bad_char_refs

PLATFORM = "news"


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed item, before its article page is fetched."""

    url: str
    title: str
    summary: str
    published_at: datetime | None
    author: str | None
    image: str | None


@dataclass(frozen=True, slots=True)
class Article:
    """What the article page adds: main text, canonical URL, its own date and author when it has them."""

    text: str
    url: str | None
    published_at: datetime | None
    author: str | None
    title: str = ""


def _struct_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _raw(item: Any, key: str) -> Any:
    # dict.get skips FeedParserDict's key aliasing, which warns (feedparser issue 310).
    return dict.get(item, key)


def _meta_date(html: str) -> datetime | None:
    """The publication time a page declares (article:published_time, JSON-LD datePublished, <time>): htmldate.

    Only what the page states is taken (no guessing from the text or URL): a wrong guessed date would
    put an old story into today's queue.
    """
    try:
        found = htmldate.find_date(html, outputformat="%Y-%m-%dT%H:%M:%S%z", extensive_search=False,
                                   original_date=True)
    except (ValueError, TypeError):
        return None
    if not found:
        return None
    try:
        return parse_datetime(str(found))
    except ValueError:
        return None


def _plain(html: str) -> str:
    if "<" not in html:
        return html.strip()
    try:
        return " ".join(lxml.html.fragment_fromstring(html, create_parent="div").text_content().split())
    except (etree.ParserError, ValueError):
        return html.strip()


def parse_feed(body: bytes | str, url: str) -> tuple[list[Entry], datetime | None]:
    """Entries of an RSS/Atom feed (newest first as the feed gives them) and the feed's own date."""
    # Always a stream of the bytes we fetched: given bytes or a str, feedparser would treat a short body
    # as a file name or URL and read a local file (or /dev/zero) or fetch past the size cap.
    raw = without_bad_char_refs(body if isinstance(body, bytes) else body.encode("utf-8", "replace"))
    try:
        parsed = feedparser.parse(io.BytesIO(raw))
    except (ValueError, TypeError, RecursionError) as e:  # feedparser's own failures on odd markup
        raise ScrapeError(f"feed could not be parsed: {type(e).__name__}", url=url) from None
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        # E.g. an HTML error or consent page answered with 200 where the feed should be.
        reason = parsed.get("bozo_exception") or "no feed elements found"
        raise ScrapeError(f"not an RSS/Atom feed: {reason}", url=url)
    feed_date = _struct_time(_raw(parsed.feed, "updated_parsed") or _raw(parsed.feed, "published_parsed"))
    return each_item(parsed.entries, lambda item: _entry(item, url), url), feed_date


def _entry(item: Any, url: str) -> Entry | None:
    """One feed entry; None without a usable link."""
    link = item.get("link") or item.get("id")
    if not link or not str(link).startswith(("http://", "https://", "/")):
        return None
    image = None
    for enclosure in item.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            image = enclosure["href"]
            break
    thumbs = item.get("media_thumbnail") or item.get("media_content") or []
    if image is None and thumbs and thumbs[0].get("url"):
        image = thumbs[0]["url"]
    return Entry(
        url=urljoin(url, str(link)).strip(),
        title=" ".join(str(item.get("title") or "").split()),
        summary=_plain(str(item.get("summary") or "")),
        published_at=_struct_time(_raw(item, "published_parsed") or _raw(item, "updated_parsed")),
        author=item.get("author") or None,
        image=image,
    )


def parse_article(body: bytes | str, url: str) -> Article:
    """Main text of an article page (trafilatura), its canonical URL, date and author when present."""
    html = decode_body(body)
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, favor_recall=True,
                                      include_comments=False, include_tables=False)
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    canonical = getattr(doc, "url", None) if doc is not None else None
    published = _meta_date(html)
    author = getattr(doc, "author", None) if doc is not None else None
    if canonical and not str(canonical).startswith(("http://", "https://")):
        try:
            canonical = urljoin(url, str(canonical))
        except ValueError:  # e.g. a malformed IPv6 host: the page's own URL stands in
            canonical = None
    title = " ".join(str(getattr(doc, "title", None) or "").split()) if doc is not None else ""
    return Article(text, canonical or None, published, author or None, title)


def entry_post(
    entry: Entry, article: Article | None, fallback_date: datetime | None, fallback_source: str = "feed"
) -> Post | None:
    """The post for a feed entry, with the article's text when it was fetched; None without any date."""
    published = entry.published_at or (article.published_at if article else None) or fallback_date
    if published is None:
        return None
    body = article.text if article and article.text else entry.summary
    text = f"{entry.title}\n\n{body}".strip() if body and not body.startswith(entry.title) else (body or entry.title)
    url = (article.url if article and article.url else None) or entry.url
    extras: dict[str, Any] = {"title": entry.title, "feed_url": entry.url} if url != entry.url else {"title": entry.title}
    if entry.published_at is None:
        extras["date_source"] = "article" if article and article.published_at else fallback_source
    return Post(
        platform=PLATFORM,
        external_id=url,
        url=url,
        text=text,
        published_at=published,
        author=entry.author or (article.author if article else None),
        media=(Media("photo", entry.image),) if entry.image else (),
        extras=extras,
    )


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Posts from a saved feed (entry summaries) or, for an HTML page, the one article it holds."""
    head = (body[:512] if isinstance(body, bytes) else body[:512].encode()).lower()
    if b"<html" in head or b"<!doctype html" in head:
        article = parse_article(body, url)
        entry = Entry(article.url or url, article.title, "", article.published_at, article.author, None)
        post = entry_post(entry, article, None)
        return ([post] if post else []), None
    entries, feed_date = parse_feed(body, url)
    return [p for p in (entry_post(e, None, feed_date) for e in entries) if p], None


class NewsScraper:
    """A feed URL as target; new entries' articles are fetched (robots.txt honoured) one page each."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings) -> None:
        self.source = source
        self.http = http
        opts = options(source, {"max_articles": int, "fetch_articles": bool})
        if not source.target.startswith(("http://", "https://")):
            raise ConfigError(f"sources[{source.name}].target: expected the feed's http(s) URL")
        self.max_articles = opts.get("max_articles", 20)
        self.fetch_articles = opts.get("fetch_articles", True)

    def _article(self, entry: Entry) -> tuple[Article | None, Response | None, str | None]:
        if not self.fetch_articles:
            return None, None, None
        try:
            response = self.http.get(entry.url, robots=True, source=self.source.name)
        except ScrapeError as e:
            # One broken article must not cost the feed: the entry is kept with its summary.
            return None, None, str(e)
        return parse_article(response.body, response.url), response, None

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """The feed (conditional GET), then one page per new article, oldest first."""
        validators = cursor.get("validators") if isinstance(cursor.get("validators"), Mapping) else None
        seen = [str(x) for x in cursor.get("seen", []) if isinstance(x, str)]
        feed = self.http.get(self.source.target, validators=validators, source=self.source.name)
        if feed.is_not_modified:
            yield Page(feed.url, (), dict(cursor), is_not_modified=True)
            return
        try:
            entries, feed_date = parse_feed(feed.body, feed.url)
        except ScrapeError as e:
            raise ScrapeError(str(e).split(": ", 1)[-1], source=self.source.name, url=feed.url) from None
        new = [e for e in entries if e.url not in seen][: self.max_articles]
        state: dict[str, Any] = {"validators": feed.validators, "seen": seen}
        if not new:
            yield Page(feed.url, (), state)
            return
        for entry in reversed(new):
            article, response, error = self._article(entry)
            post = entry_post(entry, article, feed_date or feed.fetched_at, "feed" if feed_date else "fetched")
            seen = remember(seen, [entry.url])
            # Validators are saved only with the last article: a run cut short refetches the feed.
            state = {"seen": seen, **({"validators": feed.validators} if entry is new[0] else {})}
            if post is None:
                yield Page(entry.url, (), state)
                continue
            if error:
                post = dataclasses.replace(post, extras={**post.extras, "article_error": error})
            yield Page(entry.url, with_snapshot([post], response or feed), state,
                       notes=(error,) if error else ())

