"""Public Telegram channels through the web preview t.me/s/<channel> (no login, no API key)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import lxml.html
from lxml import etree

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Media, Post
from monitor.ingest.http import HttpClient, Response, Unreachable, decode_body
from scrapers.base import Page, as_int, each_item, options, with_snapshot

PLATFORM = "telegram"
_CHANNEL = re.compile(r"^[A-Za-z0-9_]{3,64}$")
_BG_URL = re.compile(r"background-image:\s*url\(['\"]?([^'\")]+)['\"]?\)")
_VIEWS = re.compile(r"^([\d.,]+)\s*([KMB]?)$", re.IGNORECASE)
_MANY_NEWLINES = re.compile(r"\n{3,}")


def _has(cls: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')"


# Classes read from inside one message; each message's elements are indexed by class in one pass
# (a dozen XPath searches per message cost three times as much on real pages full of SVG).
_WANTED = frozenset({
    "tgme_widget_message_text", "tgme_widget_message_date", "tgme_widget_message_meta",
    "tgme_widget_message_views", "tgme_widget_message_owner_name", "tgme_widget_message_from_author",
    "tgme_widget_message_forwarded_from_name", "tgme_widget_message_reply", "tgme_widget_message_photo_wrap",
    "tgme_widget_message_video_player", "tgme_widget_message_roundvideo_player",
    "tgme_widget_message_link_preview", "message_media_not_supported", "tgme_widget_message_author_name",
    "tgme_widget_message_metatext", "link_preview_site_name", "link_preview_title", "link_preview_description",
})
_PLAYER_PARTS = frozenset({"message_video_duration", "tgme_widget_message_video_thumb",
                           "tgme_widget_message_roundvideo_thumb"})
_MESSAGES = etree.XPath("//div[@data-post]")
_PREV_LINK = etree.XPath("//link[@rel='prev']/@href")
_NEXT_LINK = etree.XPath("//link[@rel='next']/@href")
_MORE_BEFORE = etree.XPath(f"//a[{_has('tme_messages_more')}]/@data-before")
Index = dict[str, list[Any]]


def _index(el: Any, wanted: frozenset[str]) -> Index:
    found: Index = {}
    for node in el.iter(etree.Element):
        classes = node.get("class")
        if classes:
            for name in classes.split():
                if name in wanted:
                    found.setdefault(name, []).append(node)
    return found


def _squash(el: Any) -> str:
    return " ".join(el.text_content().split())


def _first_text(index: Index, name: str) -> str | None:
    found = index.get(name)
    return _squash(found[0]) if found else None


@dataclass(frozen=True, slots=True)
class TelegramPage:
    """What one preview page holds: its posts and the ids to page older (before) and newer (after)."""

    posts: list[Post]
    before: int | None
    after: int | None


def _render(el: Any, out: list[str]) -> None:
    """Text with line breaks: <br> is a newline, a quote stands on its own lines."""
    if el.text:
        out.append(el.text)
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "br":
            out.append("\n")
        elif tag == "blockquote":
            out.append("\n")
            _render(child, out)
            out.append("\n")
        elif tag not in ("", "script", "style"):
            _render(child, out)
        if child.tail:
            out.append(child.tail)


def message_text(el: Any) -> str:
    """The visible text of a message element with its line breaks kept."""
    out: list[str] = []
    _render(el, out)
    text = "".join(out).replace("\xa0", " ")
    return _MANY_NEWLINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()


def parse_count(value: str) -> int | None:
    """'2.81M' -> 2810000, '1.3K' -> 1300, '512' -> 512; None when not a count."""
    match = _VIEWS.match(value.strip())
    if not match:
        return None
    digits = match.group(1).replace(",", ".")
    if len(digits) > 15:  # a 400-digit "count" is not one (and would overflow as a float)
        return None
    try:
        number = float(digits)
    except ValueError:
        return None
    return as_int(round(number * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[match.group(2).upper()]))


def parse_duration(value: str) -> int | None:
    """'0:06' -> 6, '1:02:03' -> 3723; None when not a clock duration."""
    parts = value.strip().split(":")
    if not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts) or not 1 <= len(parts) <= 3:
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


def _bg_url(style: str | None) -> str | None:
    match = _BG_URL.search(style or "")
    if not match:
        return None
    url = match.group(1)
    return "https:" + url if url.startswith("//") else url


def _query_id(href: str, key: str) -> int | None:
    try:
        value = parse_qs(urlsplit(href).query).get(key, [""])[0]
    except ValueError:  # e.g. a malformed IPv6 host in the link
        return None
    return as_int(value)


def _media(index: Index) -> tuple[Media, ...]:
    media: list[Media] = []
    for photo in index.get("tgme_widget_message_photo_wrap", ()):
        url = _bg_url(photo.get("style"))
        if url:
            media.append(Media("photo", url))
    players = index.get("tgme_widget_message_video_player", []) + index.get("tgme_widget_message_roundvideo_player", [])
    for player in players:
        video = player.find(".//video")
        src = video.get("src") if video is not None else None
        parts = _index(player, _PLAYER_PARTS)
        thumb_el = parts.get("tgme_widget_message_video_thumb") or parts.get("tgme_widget_message_roundvideo_thumb")
        thumb = _bg_url(thumb_el[0].get("style")) if thumb_el else None
        duration = _first_text(parts, "message_video_duration")
        # Videos the preview cannot play have no <video src>: the player's link to the post stands in.
        url = src or player.get("href") or thumb
        if url:
            media.append(Media("video", url, thumb, parse_duration(duration) if duration else None))
    return tuple(media)


def _extras(index: Index, text_el: Any) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    views = _first_text(index, "tgme_widget_message_views")
    if views:
        count = parse_count(views)
        if count is not None:
            extras["views"] = count
    signature = _first_text(index, "tgme_widget_message_from_author")
    if signature:
        extras["signature"] = signature
    forwarded = index.get("tgme_widget_message_forwarded_from_name")
    if forwarded:
        extras["forwarded_from"] = {"name": _squash(forwarded[0]), "url": forwarded[0].get("href")}
    reply = index.get("tgme_widget_message_reply")
    if reply:
        path = urlsplit(reply[0].get("href") or "").path.strip("/")
        extras["reply_to"] = {
            "post": path.removeprefix("s/") or None,
            "author": _first_text(index, "tgme_widget_message_author_name"),
            "text": _first_text(index, "tgme_widget_message_metatext"),
        }
    preview = index.get("tgme_widget_message_link_preview")
    if preview:
        extras["link_preview"] = {
            "url": preview[0].get("href"),
            "site_name": _first_text(index, "link_preview_site_name"),
            "title": _first_text(index, "link_preview_title"),
            "description": _first_text(index, "link_preview_description"),
        }
    meta = index.get("tgme_widget_message_meta")
    if meta and "edited" in meta[0].text_content():
        extras["edited"] = True
    if text_el is not None:
        links = [a.get("href", "") for a in text_el.iter("a")]
        links = [h for h in links if h.startswith(("http://", "https://"))]
        if links:
            extras["links"] = list(dict.fromkeys(links))
    if "message_media_not_supported" in index:
        extras["unsupported_media"] = True
    return extras


def _message(msg: Any, base: str) -> Post | None:
    classes = msg.get("class", "").split()
    if "tgme_widget_message" not in classes or "service_message" in classes:
        return None
    data_post = msg.get("data-post", "").strip("/")
    index = _index(msg, _WANTED)
    dates = [t.get("datetime") for a in index.get("tgme_widget_message_date", ()) for t in a.iter("time")]
    if "/" not in data_post or not dates or not dates[0]:
        return None
    try:
        published = datetime.fromisoformat(dates[0]).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    texts = index.get("tgme_widget_message_text")
    # The first (outermost) text block; a reply quote uses other classes, so it is never taken for it.
    text_el = texts[0] if texts else None
    owner = _first_text(index, "tgme_widget_message_owner_name")
    return Post(
        platform=PLATFORM,
        external_id=data_post,
        url=f"{base}/{data_post}",
        text=message_text(text_el) if text_el is not None else "",
        published_at=published,
        author=owner or None,
        media=_media(index),
        extras=_extras(index, text_el),
    )


def parse_page(body: bytes | str, url: str) -> TelegramPage:
    """Every post on a t.me/s/ page plus its older/newer paging ids (pure; service messages skipped)."""
    text = decode_body(body)
    if not text.strip():
        return TelegramPage([], None, None)
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return TelegramPage([], None, None)
    parts = urlsplit(url)
    base = f"https://{parts.netloc or 't.me'}"
    posts = each_item(_MESSAGES(root), lambda m: _message(m, base), url)
    before = next((b for b in (_query_id(h, "before") for h in _PREV_LINK(root)) if b), None)
    if before is None:
        more = _MORE_BEFORE(root)
        before = as_int(more[0]) if more else None
    after = next((a for a in (_query_id(h, "after") for h in _NEXT_LINK(root)) if a), None)
    return TelegramPage(posts, before, after)


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Posts on a saved t.me/s/ page and the `before` id of the next older page."""
    page = parse_page(body, url)
    return page.posts, str(page.before) if page.before else None


def post_number(post: Post) -> int:
    """The message number from an external id like 'channel/123'."""
    tail = post.external_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def channel_name(target: str) -> str | None:
    """'@name', 'name', 't.me/name' or 'https://t.me/s/name' -> 'name'; None when not a channel."""
    name = target.strip()
    if "/" in name:
        path = [p for p in urlsplit(name if "://" in name else "https://" + name).path.split("/") if p]
        name = path[-1] if path else ""
    name = name.removeprefix("@")
    return name if _CHANNEL.match(name) else None


class TelegramScraper:
    """Pages through a channel's preview: newest page then older ones on the first run, newer ones after."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings) -> None:
        self.source = source
        self.http = http
        opts = options(source, {"host": str, "fallback_host": str})
        channel = channel_name(source.target)
        if channel is None:
            raise ConfigError(f"sources[{source.name}].target: not a Telegram channel name: {source.target!r}")
        self.channel = channel
        self.hosts = [h for h in (opts.get("host", "t.me"), opts.get("fallback_host", "telegram.me")) if h]

    def _fetch(self, query: str) -> Response:
        first_error: Unreachable | None = None
        for host in list(self.hosts):
            url = f"https://{host}/s/{self.channel}{query}"
            try:
                response = self.http.get(url, follow_redirects=False, source=self.source.name)
            except Unreachable as e:
                # t.me is blocked on some networks where telegram.me still answers.
                first_error = first_error or e
                continue
            if response.redirect_to is not None:
                if "/s/" not in urlsplit(response.redirect_to).path:
                    raise ScrapeError(
                        "channel preview is disabled or the channel does not exist "
                        f"(redirected to {response.redirect_to})", source=self.source.name, url=url)
                response = self.http.get(response.redirect_to, source=self.source.name)
            if host != self.hosts[0]:
                self.hosts.remove(host)
                self.hosts.insert(0, host)
            return response
        assert first_error is not None
        raise first_error

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """First run: newest page then older (`?before=`); later runs: newer pages (`?after=`)."""
        last_id = cursor.get("last_id")
        if isinstance(last_id, int) and last_id > 0:
            yield from self._newer(last_id)
        else:
            yield from self._backfill()

    def _backfill(self) -> Iterator[Page]:
        query, newest = "", 0
        for page_no in range(self.source.max_pages):
            response = self._fetch(query)
            page = parse_page(response.body, response.url)
            newest = max([newest, *(post_number(p) for p in page.posts)])
            is_last = not page.posts or not page.before or page_no == self.source.max_pages - 1
            # Newest-first paging: the cursor is saved only after the last page, so a failure midway
            # means the next run backfills again (stored posts are deduplicated) instead of leaving a gap.
            saved = {"last_id": newest} if is_last and newest else {}
            yield Page(response.url, with_snapshot(page.posts, response), saved)
            if is_last:
                return
            query = f"?before={page.before}"

    def _newer(self, last_id: int) -> Iterator[Page]:
        for _ in range(self.source.max_pages):
            response = self._fetch(f"?after={last_id}")
            page = parse_page(response.body, response.url)
            new = [p for p in page.posts if post_number(p) > last_id]
            last_id = max([last_id, *(post_number(p) for p in new)])
            yield Page(response.url, with_snapshot(new, response), {"last_id": last_id})
            if not new:
                return
