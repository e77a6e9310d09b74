"""Public Telegram channels through the web preview t.me/s/<channel> (no login, no API key)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import lxml.html
from lxml import etree

from monitor.config import HttpSettings, SourceSettings
from monitor.errors import ConfigError, ScrapeError
from monitor.http import HttpClient, Response, Unreachable, decode_body
from monitor.posts import Media, Post
from scrapers.base import Page, options, with_snapshot

PLATFORM = "telegram"
_CHANNEL = re.compile(r"^[A-Za-z0-9_]{3,64}$")
_BG_URL = re.compile(r"background-image:\s*url\(['\"]?([^'\")]+)['\"]?\)")
_VIEWS = re.compile(r"^([\d.,]+)\s*([KMB]?)$", re.I)
_MANY_NEWLINES = re.compile(r"\n{3,}")


def _has(cls: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')"


_MESSAGES = etree.XPath(f"//div[{_has('tgme_widget_message')}][@data-post]")
_TEXT = etree.XPath(f".//div[{_has('tgme_widget_message_text')}][not(ancestor::*[{_has('tgme_widget_message_reply')}])]")
_DATE = etree.XPath(f".//a[{_has('tgme_widget_message_date')}]/time/@datetime")
_META = etree.XPath(f".//*[{_has('tgme_widget_message_meta')}]")
_VIEWS_EL = etree.XPath(f".//*[{_has('tgme_widget_message_views')}]")
_OWNER = etree.XPath(f".//*[{_has('tgme_widget_message_owner_name')}]")
_SIGNATURE = etree.XPath(f".//*[{_has('tgme_widget_message_from_author')}]")
_FORWARDED = etree.XPath(f".//*[{_has('tgme_widget_message_forwarded_from_name')}]")
_REPLY = etree.XPath(f".//a[{_has('tgme_widget_message_reply')}]")
_PHOTOS = etree.XPath(f".//a[{_has('tgme_widget_message_photo_wrap')}]")
_VIDEOS = etree.XPath(
    f".//*[{_has('tgme_widget_message_video_player')} or {_has('tgme_widget_message_roundvideo_player')}]"
)
_PREVIEW = etree.XPath(f".//a[{_has('tgme_widget_message_link_preview')}]")
_UNSUPPORTED = etree.XPath(f".//*[{_has('message_media_not_supported')}]")
_CLASS_TEXT = {
    name: etree.XPath(f".//*[{_has(name)}]")
    for name in (
        "tgme_widget_message_author_name", "tgme_widget_message_metatext", "link_preview_site_name",
        "link_preview_title", "link_preview_description", "message_video_duration",
        "tgme_widget_message_video_thumb", "tgme_widget_message_roundvideo_thumb",
    )
}
_PREV_LINK = etree.XPath("//link[@rel='prev']/@href")
_NEXT_LINK = etree.XPath("//link[@rel='next']/@href")
_MORE_BEFORE = etree.XPath(f"//a[{_has('tme_messages_more')}]/@data-before")


@dataclass(frozen=True, slots=True)
class TelegramPage:
    """What one preview page holds: its posts and the ids to page older (before) and newer (after)."""

    posts: list[Post]
    before: int | None
    after: int | None


def _first_text(el: Any, name: str) -> str | None:
    found = _CLASS_TEXT[name](el)
    return " ".join(found[0].text_content().split()) if found else None


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
    number = float(match.group(1).replace(",", "."))
    return int(round(number * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[match.group(2).upper()]))


def parse_duration(value: str) -> int | None:
    """'0:06' -> 6, '1:02:03' -> 3723; None when not a clock duration."""
    parts = value.strip().split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
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
    value = parse_qs(urlsplit(href).query).get(key, [""])[0]
    return int(value) if value.isdigit() else None


def _media(msg: Any) -> tuple[Media, ...]:
    media: list[Media] = []
    for photo in _PHOTOS(msg):
        url = _bg_url(photo.get("style"))
        if url:
            media.append(Media("photo", url))
    for player in _VIDEOS(msg):
        video = player.find(".//video")
        src = video.get("src") if video is not None else None
        thumb_el = _CLASS_TEXT["tgme_widget_message_video_thumb"](player) or _CLASS_TEXT[
            "tgme_widget_message_roundvideo_thumb"](player)
        thumb = _bg_url(thumb_el[0].get("style")) if thumb_el else None
        duration = _first_text(player, "message_video_duration")
        # Videos the preview cannot play have no <video src>: the player's link to the post stands in.
        url = src or player.get("href") or thumb
        if url:
            media.append(Media("video", url, thumb, parse_duration(duration) if duration else None))
    return tuple(media)


def _extras(msg: Any, text_el: Any) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    views = _VIEWS_EL(msg)
    if views:
        count = parse_count(views[0].text_content())
        if count is not None:
            extras["views"] = count
    signature = _SIGNATURE(msg)
    if signature:
        extras["signature"] = " ".join(signature[0].text_content().split())
    forwarded = _FORWARDED(msg)
    if forwarded:
        extras["forwarded_from"] = {
            "name": " ".join(forwarded[0].text_content().split()),
            "url": forwarded[0].get("href"),
        }
    reply = _REPLY(msg)
    if reply:
        path = urlsplit(reply[0].get("href") or "").path.strip("/")
        extras["reply_to"] = {
            "post": path.removeprefix("s/") or None,
            "author": _first_text(reply[0], "tgme_widget_message_author_name"),
            "text": _first_text(reply[0], "tgme_widget_message_metatext"),
        }
    preview = _PREVIEW(msg)
    if preview:
        extras["link_preview"] = {
            "url": preview[0].get("href"),
            "site_name": _first_text(preview[0], "link_preview_site_name"),
            "title": _first_text(preview[0], "link_preview_title"),
            "description": _first_text(preview[0], "link_preview_description"),
        }
    meta = _META(msg)
    if meta and "edited" in meta[0].text_content():
        extras["edited"] = True
    if text_el is not None:
        links = [h for h in text_el.xpath(".//a/@href") if h.startswith(("http://", "https://"))]
        if links:
            extras["links"] = list(dict.fromkeys(links))
    if _UNSUPPORTED(msg):
        extras["unsupported_media"] = True
    return extras


def _message(msg: Any, base: str) -> Post | None:
    classes = msg.get("class", "").split()
    if "service_message" in classes:
        return None
    data_post = msg.get("data-post", "").strip("/")
    dates = _DATE(msg)
    if "/" not in data_post or not dates:
        return None
    try:
        published = datetime.fromisoformat(dates[0]).astimezone(timezone.utc)
    except ValueError:
        return None
    texts = _TEXT(msg)
    text_el = texts[0] if texts else None
    owner = _OWNER(msg)
    return Post(
        platform=PLATFORM,
        external_id=data_post,
        url=f"{base}/{data_post}",
        text=message_text(text_el) if text_el is not None else "",
        published_at=published,
        author=" ".join(owner[0].text_content().split()) or None if owner else None,
        media=_media(msg),
        extras=_extras(msg, text_el),
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
    posts = [p for p in (_message(m, base) for m in _MESSAGES(root)) if p is not None]
    before = next((b for b in (_query_id(h, "before") for h in _PREV_LINK(root)) if b), None)
    if before is None:
        more = _MORE_BEFORE(root)
        before = int(more[0]) if more and more[0].isdigit() else None
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
