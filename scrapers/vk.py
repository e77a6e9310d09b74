"""VK public communities through the VK API: wall.get for a community, newsfeed.search for keywords."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Media, Post
from monitor.ingest.http import HttpClient, Response
from scrapers.base import Page, as_int, as_list, each_item, options, utc_from_timestamp, with_snapshot

PLATFORM = "vk"
API = "https://api.vk.com/method/"
API_VERSION = "5.199"
PAGE_SIZE = 100
# Error codes worth waiting for and retrying; the rest are final for this run.
RETRY_CODES = {6: "too many requests per second", 9: "flood control", 10: "internal server error",
               29: "rate limit reached"}
FINAL_CODES = {
    5: "authorization failed: check MONITOR_VK_TOKEN",
    15: "access denied (closed or private community)",
    18: "page deleted or banned",
    30: "profile is private",
    100: "invalid parameter",
    113: "invalid user or community id",
    203: "access to the community denied",
}
_PHOTO_ORDER = "wzyrqpoxms"


class VkApiError(ScrapeError):
    """The VK API answered with an error object (its code is kept)."""

    def __init__(self, code: int, message: str, *, source: str | None = None, url: str | None = None) -> None:
        self.code = code
        self.detail = message
        super().__init__(f"VK API error {code}: {message}", source=source, url=url)


def _largest_photo(photo: Mapping[str, Any]) -> str | None:
    sizes = [s for s in as_list(photo.get("sizes")) if isinstance(s, Mapping) and s.get("url")]
    if not sizes:
        return None
    ranked = sorted(sizes, key=lambda s: ((as_int(s.get("width")) or 0) * (as_int(s.get("height")) or 0),
                                          -_PHOTO_ORDER.find(str(s.get("type", "")))))
    return str(ranked[-1]["url"])


def _attachments(items: Any) -> tuple[list[Media], dict[str, Any]]:
    media: list[Media] = []
    extras: dict[str, Any] = {}
    for att in items if isinstance(items, list) else []:
        if not isinstance(att, Mapping):
            continue
        kind, body = att.get("type"), att.get(str(att.get("type")))
        if not isinstance(body, Mapping):
            continue
        if kind == "photo":
            url = _largest_photo(body)
            if url:
                media.append(Media("photo", url))
        elif kind == "video":
            owner, vid = body.get("owner_id"), body.get("id")
            thumb = None
            images = [i for i in as_list(body.get("image")) if isinstance(i, Mapping) and i.get("url")]
            if images:
                thumb = str(max(images, key=lambda i: as_int(i.get("width")) or 0)["url"])
            duration = body.get("duration")
            media.append(Media("video", f"https://vk.com/video{owner}_{vid}", thumb,
                               duration if isinstance(duration, int) else None))
            if body.get("title"):
                extras.setdefault("video_titles", []).append(str(body["title"]))
        elif kind == "link" and body.get("url"):
            extras["link_preview"] = {"url": body.get("url"), "title": body.get("title"),
                                      "description": body.get("description")}
    return media, extras


def _names(response: Mapping[str, Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for group in as_list(response.get("groups")):
        if isinstance(group, Mapping) and isinstance(group.get("id"), int):
            names[-group["id"]] = str(group.get("name") or "")
    for profile in as_list(response.get("profiles")):
        if isinstance(profile, Mapping) and isinstance(profile.get("id"), int):
            names[profile["id"]] = f"{profile.get('first_name', '')} {profile.get('last_name', '')}".strip()
    return names


def _item(item: Mapping[str, Any], names: Mapping[int, str]) -> Post | None:
    owner, pid = item.get("owner_id", item.get("source_id")), item.get("id", item.get("post_id"))
    published = utc_from_timestamp(item.get("date"))
    if not isinstance(owner, int) or not isinstance(pid, int) or published is None:
        return None
    text = str(item.get("text") or "")
    media, extras = _attachments(item.get("attachments"))
    copies = [c for c in as_list(item.get("copy_history")) if isinstance(c, Mapping)]
    if copies:
        # A repost's own text is often empty: the reposted text is what staff need to read.
        original = copies[0]
        extras["repost_of"] = f"{original.get('owner_id')}_{original.get('id')}"
        if original.get("text"):
            text = f"{text}\n\n{original['text']}".strip()
        more_media, _ = _attachments(original.get("attachments"))
        media.extend(more_media)
    for key, out in (("views", "views"), ("likes", "likes"), ("reposts", "reposts"), ("comments", "comments")):
        value = item.get(key)
        count = as_int(value.get("count")) if isinstance(value, Mapping) else None
        if count is not None:
            extras[out] = count
    edited = utc_from_timestamp(item.get("edited"))
    if edited:
        extras["edited"] = True
        extras["edited_at"] = edited.isoformat()
    if isinstance(item.get("signer_id"), int):
        extras["signature"] = names.get(item["signer_id"]) or str(item["signer_id"])
    if item.get("is_pinned"):
        extras["is_pinned"] = True
    return Post(
        platform=PLATFORM,
        external_id=f"{owner}_{pid}",
        url=f"https://vk.com/wall{owner}_{pid}",
        text=text,
        published_at=published,
        author=names.get(owner) or names.get(item.get("from_id", 0)) or None,
        media=tuple(media),
        extras=extras,
    )


def load_response(body: bytes | str, url: str) -> Mapping[str, Any]:
    """The `response` object of a VK API answer; VkApiError for an error object, ScrapeError when malformed."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ScrapeError(f"VK API answer is not JSON: {e}", url=url) from None
    if not isinstance(data, Mapping):
        raise ScrapeError("VK API answer is not a JSON object", url=url)
    error = data.get("error")
    if isinstance(error, Mapping):
        raw_code = error.get("error_code")
        code = raw_code if isinstance(raw_code, int) else 0
        message = FINAL_CODES.get(code) or RETRY_CODES.get(code) or "unknown error"
        raise VkApiError(code, f"{message} ({error.get('error_msg', '')})".strip(), url=url)
    response = data.get("response")
    if not isinstance(response, Mapping) or not isinstance(response.get("items", []), list):
        raise ScrapeError("VK API answer has no response.items", url=url)
    return response


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Posts in a saved wall.get / newsfeed.search answer and the search's next_from (if any)."""
    response = load_response(body, url)
    names = _names(response)
    items = [i for i in as_list(response.get("items")) if isinstance(i, Mapping)]
    posts = each_item(items, lambda i: _item(i, names), url)
    next_from = response.get("next_from")
    return posts, str(next_from) if next_from else None


def post_id(post: Post) -> int:
    """The post number from an external id like '-123_456'."""
    tail = post.external_id.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class VkScraper:
    """A community wall (options.mode='wall', target: screen name or -id) or a keyword search (mode='search')."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings) -> None:
        self.source = source
        self.http = http
        self.settings = settings
        opts = options(source, {"mode": str, "count": int})
        self.mode = opts.get("mode", "wall")
        if self.mode not in ("wall", "search"):
            raise ConfigError(f"sources[{source.name}].options.mode: expected 'wall' or 'search'")
        self.count = opts.get("count", PAGE_SIZE)
        if not 1 <= self.count <= 100:
            raise ConfigError(f"sources[{source.name}].options.count: expected 1..100")

    def _call(self, method: str, params: dict[str, str | int]) -> tuple[Response, list[Post], str | None]:
        token = self.settings.vk_token
        if token is None:
            raise ScrapeError("VK needs a service token: set MONITOR_VK_TOKEN", source=self.source.name)
        query = {**params, "v": API_VERSION, "access_token": token.get_secret_value()}
        url = API + method
        for attempt in range(self.settings.max_retries + 1):
            response = self.http.get(url, params=query, source=self.source.name)
            try:
                posts, next_from = parse(response.body, url)
            except VkApiError as e:
                if e.code in RETRY_CODES and attempt < self.settings.max_retries:
                    self.http.sleep(self.http.backoff(attempt))
                    continue
                raise VkApiError(e.code, e.detail, source=self.source.name, url=url) from None
            except ScrapeError as e:
                raise ScrapeError(str(e).removeprefix(f"{url}: "), source=self.source.name, url=url) from None
            # The evidence URL must not carry the token.
            clean = Response(f"{url}?{method}", response.status, response.headers, response.body,
                             response.fetched_at)
            return clean, posts, next_from
        raise AssertionError("unreachable")

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """Wall: newest first until the last seen post id; search: newest first since the last seen time."""
        if self.mode == "wall":
            yield from self._wall(cursor)
        else:
            yield from self._search(cursor)

    def _wall(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        saved_id = cursor.get("last_id")
        last_id = saved_id if isinstance(saved_id, int) else 0
        target = self.source.target.strip()
        params: dict[str, str | int] = {"extended": 1, "count": self.count}
        if target.lstrip("-").isdigit():
            params["owner_id"] = int(target) if target.startswith("-") else -int(target)
        else:
            params["domain"] = target.removeprefix("https://vk.com/").removeprefix("vk.com/").strip("/")
        newest = last_id
        for page_no in range(self.source.max_pages):
            response, posts, _ = self._call("wall.get", {**params, "offset": page_no * self.count})
            new = [p for p in posts if post_id(p) > last_id]
            newest = max([newest, *(post_id(p) for p in new)])
            # A pinned post sits on top of the wall whatever its age, so it does not end the walk.
            is_last = (len(posts) < self.count or page_no == self.source.max_pages - 1
                       or any(post_id(p) <= last_id for p in posts if not p.extras.get("is_pinned")))
            # Newest-first paging: the cursor moves only after the last page, so a failure midway
            # leaves the older part of the gap to be fetched again next run.
            saved = {"last_id": newest} if is_last and newest else dict(cursor)
            yield Page(response.url, with_snapshot(new, response), saved)
            if is_last:
                return

    def _search(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        saved_since = cursor.get("since")
        since = saved_since if isinstance(saved_since, int) else None
        params: dict[str, str | int] = {"q": self.source.target, "extended": 1, "count": self.count}
        if since:
            params["start_time"] = since + 1
        newest = since or 0
        next_from: str | None = None
        for page_no in range(self.source.max_pages):
            query = {**params, **({"start_from": next_from} if next_from else {})}
            response, posts, next_from = self._call("newsfeed.search", query)
            newest = max([newest, *(int(p.published_at.timestamp()) for p in posts)])
            is_last = not next_from or not posts or page_no == self.source.max_pages - 1
            saved = {"since": newest} if is_last and newest else dict(cursor)
            yield Page(response.url, with_snapshot(posts, response), saved)
            if is_last:
                return
