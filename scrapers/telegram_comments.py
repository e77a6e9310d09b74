"""Public comments under a channel post, from the discussion widget `t.me/<channel>/<id>?embed=1&discussion=1`.

Only channels with a linked discussion group show comments there, and only what the group lets anyone read.
Each comment becomes a post linked to its parent (`extras["parent"]`), so bullying in replies is classified
and queued like any post.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from monitor.core.errors import ScrapeError
from monitor.core.posts import Post, Snapshot
from monitor.ingest.http import HttpClient, HttpStatusError, decode_body
from scrapers.base import bare_message
from scrapers.telegram import _WANTED, PLATFORM, _index, _media, message_text

WIDGET_URL = "https://t.me/{channel}/{post}"
MAX_LIMIT = 100
_COUNT = re.compile(r"(\d[\d\s,.]*)")
_COMMENTS = etree.XPath("//div[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message ')]"
                        "[@data-post-id]")
_ERROR = etree.XPath("//*[contains(@class, 'tgme_widget_message_error') or contains(@class, 'tme_no_messages_found')]")
_HEADER = etree.XPath("//*[contains(@class, 'tgme_post_discussion_header')]//*[contains(@class, 'js-header')]")


class NoDiscussion(ScrapeError):
    """The post has no public comments: no linked discussion group, comments off, or the post is gone."""


@dataclass(frozen=True, slots=True)
class Discussion:
    """The comments the widget shows under one post, and the total it announces."""

    parent: str
    comments: list[Post]
    total: int | None


def _first(el: lxml.html.HtmlElement, cls: str) -> lxml.html.HtmlElement | None:
    found = el.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")
    return found[0] if found else None


def parent_of(url: str) -> str | None:
    """'channel/123' from a post or widget URL, None when the URL names no post."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if parts and parts[0] == "s":
        parts = parts[1:]
    return f"{parts[0]}/{parts[1]}" if len(parts) >= 2 and parts[1].isdigit() else None


def parse_discussion(body: bytes | str, url: str, parent: str | None = None) -> Discussion:
    """The comments on a saved discussion-widget page (pure); NoDiscussion when the widget shows none."""
    parent = parent or parent_of(url)
    if parent is None:
        raise ScrapeError("not the URL of a channel post (expected t.me/<channel>/<id>)", url=url)
    text = decode_body(body)
    if not text.strip():
        raise NoDiscussion("empty discussion page", url=url)
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        raise NoDiscussion("discussion page is not HTML", url=url) from None
    if _ERROR(root):
        raise NoDiscussion("no public comments (no linked discussion group, or comments are closed)", url=url)
    header = _HEADER(root)
    total = None
    if header:
        match = _COUNT.search(header[0].text_content())
        total = int(re.sub(r"\D", "", match.group(1))) if match else None
    channel, post_no = parent.split("/", 1)
    parent_url = f"https://t.me/{parent}"
    comments = []
    for el in _COMMENTS(root):
        comment_id = (el.get("data-post-id") or "").strip()
        date = _first(el, "tgme_widget_message_date")
        times = date.xpath(".//time/@datetime") if date is not None else []
        if not comment_id.isdigit() or not times:
            continue
        try:
            published = datetime.fromisoformat(times[0]).astimezone(UTC)
        except ValueError:
            continue
        text_el = _first(el, "js-message_text")
        if text_el is None:
            text_el = _first(el, "tgme_widget_message_text")
        author = _first(el, "tgme_widget_message_author_name")
        reply = _first(el, "tgme_widget_message_reply")
        extras: dict[str, object] = {
            "kind": "comment", "comment_id": int(comment_id),
            "parent": {"platform": PLATFORM, "external_id": parent, "url": parent_url},
        }
        if reply is not None:
            reply_to = parse_qs_comment(reply.get("href") or "")
            if reply_to:
                extras["reply_to_comment"] = reply_to
        comments.append(Post(
            platform=PLATFORM, external_id=f"{parent}/c{comment_id}",
            url=f"https://t.me/{channel}/{post_no}?comment={comment_id}",
            text=message_text(text_el) if text_el is not None else "", published_at=published,
            media=_media(_index(el, _WANTED)),
            author=(" ".join(author.text_content().split()) or None) if author is not None else None,
            extras=extras,
        ))
    return Discussion(parent, comments, total)


def parse_qs_comment(href: str) -> int | None:
    """The comment id in a '...?comment=123' link."""
    match = re.search(r"[?&]comment=(\d+)", href)
    return int(match.group(1)) if match else None


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Comments on a saved discussion-widget page (its URL names the parent post)."""
    return parse_discussion(body, url).comments, None


def fetch_comments(http: HttpClient, parent: str, *, limit: int = 50, source: str | None = None) -> tuple[
        Discussion, Snapshot]:
    """The public comments under one channel post, through the shared HTTP client."""
    url = WIDGET_URL.format(channel=parent.split("/", 1)[0], post=parent.split("/", 1)[1])
    params = {"embed": "1", "discussion": "1", "comments_limit": str(max(1, min(limit, MAX_LIMIT)))}
    try:
        response = http.get(url, params=params, source=source)
    except HttpStatusError as e:
        if e.status == 404:
            raise NoDiscussion("the post does not exist (HTTP 404)", source=source, url=url) from None
        raise
    try:
        discussion = parse_discussion(response.body, url, parent)
    except ScrapeError as e:
        raise type(e)(bare_message(e), source=source, url=response.url) from None
    return discussion, Snapshot(response.url, response.body, response.fetched_at, response.content_type)


def collect(parents: Sequence[str], http: HttpClient, *, limit: int = 50) -> Iterator[tuple[str, list[Post] | str]]:
    """(parent, its comments with the widget page as evidence, or why there are none) for each parent."""
    for parent in parents:
        try:
            discussion, snap = fetch_comments(http, parent, limit=limit, source=f"comments:{parent}")
        except NoDiscussion as e:
            yield parent, f"none: {e}"
            continue
        except ScrapeError as e:
            # One post's failure never stops the others.
            yield parent, f"error: {e}"
            continue
        yield parent, [dataclasses.replace(p, snapshot=snap) for p in discussion.comments]
