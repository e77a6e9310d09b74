"""Public Instagram accounts and hashtags: a pure parse of the JSON Instagram answers, and two fetch modes.

mode "web" (default): web_profile_info and the profile-posts GraphQL pages through our HttpClient (per-host
rate limit, retries, size cap), with the cookies of an instaloader session file when one is set.
mode "instaloader": instaloader makes the queries (scrapers.instagram_loader), paced by our limits.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Media, Post, Snapshot
from monitor.ingest.http import HttpClient, HttpStatusError, Response, decode_body
from scrapers.base import Page, bare_message, options, utc_from_timestamp, with_snapshot
from scrapers.instagram_loader import (
    LoginWall,
    PerHostRateController,
    PrivateAccount,
    RateLimited,
    from_instaloader,
    instaloader_posts,
    load_session_cookies,
)

PLATFORM = "instagram"
PROFILE_INFO = "https://i.instagram.com/api/v1/users/web_profile_info/"
GRAPHQL = "https://www.instagram.com/graphql/query/"
TAG_INFO = "https://www.instagram.com/explore/tags/{tag}/"
# The web app's "profile posts" query (variables id, first, after), as used by instaloader 4.9.
PROFILE_POSTS_QUERY = "e769aa130647d2354c40ea6a439bfc08"
PAGE_SIZE = 12
MAX_COMMENTS = 20
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_TAG = re.compile(r"^\w{1,100}$")
_MEDIA_TYPES = {1: "GraphImage", 2: "GraphVideo", 8: "GraphSidecar"}


@dataclass(frozen=True, slots=True)
class InstagramPage:
    """One answer: its posts, the cursor of the next older page, and what it says about the account."""

    posts: list[Post]
    end_cursor: str | None
    user_id: str | None = None
    username: str | None = None
    is_private: bool = False
    pinned: frozenset[str] = frozenset()


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) else None


def _count(value: Any) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def from_iphone(media: Mapping[str, Any]) -> dict[str, Any]:
    """A mobile-API ('iphone struct') media item in the GraphQL node shape (as instaloader converts it)."""
    typename = _MEDIA_TYPES.get(media.get("media_type") or 0, "GraphImage")
    caption = _map(media.get("caption")).get("text")
    node: dict[str, Any] = {
        "shortcode": media.get("code"), "id": _str(media.get("pk") or media.get("id")), "__typename": typename,
        "is_video": typename == "GraphVideo", "taken_at_timestamp": media.get("taken_at"),
        "edge_media_to_caption": {"edges": [{"node": {"text": caption}}]} if caption else {"edges": []},
        "edge_media_to_comment": {"count": media.get("comment_count")},
        "edge_media_preview_like": {"count": media.get("like_count")},
        "video_view_count": media.get("play_count") or media.get("view_count"),
        "video_duration": media.get("video_duration"),
        "owner": {"username": _map(media.get("user")).get("username"), "id": _str(_map(media.get("user")).get("pk"))},
        "timeline_pinned_user_ids": media.get("timeline_pinned_user_ids") or [],
    }
    candidates = _list(_map(media.get("image_versions2")).get("candidates"))
    if candidates:
        node["display_url"] = _map(candidates[0]).get("url")
    videos = _list(media.get("video_versions"))
    if videos:
        node["video_url"] = _map(videos[0]).get("url")
    children = _list(media.get("carousel_media"))
    if children:
        node["edge_sidecar_to_children"] = {"edges": [{"node": from_iphone(_map(c))} for c in children]}
    comments = _list(media.get("preview_comments"))
    if comments:
        node["edge_media_to_comment"]["edges"] = [{"node": {
            "id": _str(c.get("pk")), "text": c.get("text"), "created_at": c.get("created_at"),
            "owner": {"username": _map(c.get("user")).get("username")}}} for c in comments if isinstance(c, Mapping)]
    return node


def _one_media(node: Mapping[str, Any], post_url: str) -> Media | None:
    display = _str(node.get("display_url")) or _str(node.get("thumbnail_src"))
    if node.get("is_video"):
        duration = node.get("video_duration")
        seconds = round(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None
        # Nodes of a profile page often leave out video_url: the post's page stands in for the media job.
        return Media("video", _str(node.get("video_url")) or post_url, display, seconds)
    return Media("photo", display) if display else None


def _caption(node: Mapping[str, Any]) -> str:
    edges = _list(_map(node.get("edge_media_to_caption")).get("edges"))
    texts = [str(_map(_map(e).get("node")).get("text") or "") for e in edges]
    if not any(texts) and isinstance(node.get("caption"), str):  # instaloader's converted nodes
        return str(node["caption"]).strip()
    return "\n".join(t for t in texts if t).strip()


def _comments(node: Mapping[str, Any], cap: int) -> list[dict[str, Any]]:
    out = []
    for conn in ("edge_media_to_parent_comment", "edge_media_to_comment", "edge_media_preview_comment"):
        for edge in _list(_map(node.get(conn)).get("edges")):
            c = _map(_map(edge).get("node"))
            text = c.get("text")
            if not isinstance(text, str) or not text.strip():
                continue
            created = utc_from_timestamp(c.get("created_at"))
            out.append({"id": _str(c.get("id")), "author": _map(c.get("owner")).get("username"),
                        "text": text.strip(), "published_at": created.isoformat() if created else None})
        if out:
            break
    return out[:cap]


def post_from_node(node: Mapping[str, Any], owner: str | None = None, *,
                   max_comments: int = MAX_COMMENTS) -> Post | None:
    """One post from a GraphQL media node (or a mobile-API item); None without shortcode or time."""
    if "code" in node and "pk" in node and "shortcode" not in node:
        node = from_iphone(node)
    shortcode = _str(node.get("shortcode"))
    published = utc_from_timestamp(node.get("taken_at_timestamp") or node.get("date"))
    if not shortcode or published is None:
        return None
    url = f"https://www.instagram.com/p/{shortcode}/"
    children = [_map(_map(e).get("node")) for e in _list(_map(node.get("edge_sidecar_to_children")).get("edges"))]
    media = [m for m in (_one_media(c, url) for c in (children or [node])) if m is not None]
    node_owner = _map(node.get("owner"))
    extras: dict[str, Any] = {"shortcode": shortcode, "media_id": _str(node.get("id")),
                              "kind": node.get("product_type") or node.get("__typename")}
    for key, value in (("comments", _count(node.get("edge_media_to_parent_comment"))
                        or _count(node.get("edge_media_to_comment")) or _count(node.get("comments"))),
                       ("likes", _count(node.get("edge_media_preview_like")) or _count(node.get("edge_liked_by"))),
                       ("views", _count(node.get("video_view_count")))):
        if value is not None:
            extras[key] = value
    if _str(node_owner.get("id")):
        extras["owner_id"] = _str(node_owner.get("id"))
    location = _map(node.get("location")).get("name")
    if isinstance(location, str) and location:
        extras["location"] = location
    if node.get("timeline_pinned_user_ids") or node.get("pinned_for_users"):
        extras["pinned"] = True
    comments = _comments(node, max_comments)
    if comments:
        extras["comment_sample"] = comments
    return Post(
        platform=PLATFORM, external_id=shortcode, url=url, text=_caption(node), published_at=published,
        author=_str(node_owner.get("username")) or owner, media=tuple(media), extras=extras,
    )


def _error(data: Mapping[str, Any], url: str) -> None:
    if data.get("status") != "fail" and not data.get("require_login"):
        return
    message = str(data.get("message") or "request refused")
    if data.get("require_login") or "login" in message.lower():
        raise LoginWall(f"Instagram asks for a login: {message}", url=url)
    if "wait" in message.lower() or data.get("spam"):
        raise RateLimited(f"Instagram rate limit: {message}", url=url)
    raise ScrapeError(f"Instagram refused the request: {message}", url=url)


def _connection(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(the user or hashtag object, its media connection) wherever the answer keeps them."""
    root = _map(data.get("data")) or _map(data.get("graphql"))
    for key in ("user", "hashtag"):
        holder = _map(root.get(key))
        for conn in ("edge_owner_to_timeline_media", "edge_hashtag_to_media"):
            if conn in holder:
                return holder, _map(holder.get(conn))
        if holder:
            return holder, {}
    timeline = _map(root.get("xdt_api__v1__feed__user_timeline_graphql_connection"))
    return {}, timeline


def parse_page(body: bytes | str, url: str, *, max_comments: int = MAX_COMMENTS) -> InstagramPage:
    """Posts in a saved web_profile_info, profile-posts GraphQL or hashtag answer (pure)."""
    text = decode_body(body).strip()
    if not text:
        return InstagramPage([], None)
    if text.startswith("<"):
        # E.g. the login page served with 200 to a logged-out client instead of the JSON.
        raise LoginWall("Instagram answered with an HTML page (login wall) instead of JSON", url=url)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ScrapeError(f"Instagram answer is not JSON: {e}", url=url) from None
    if not isinstance(data, Mapping):
        raise ScrapeError("Instagram answer is not a JSON object", url=url)
    _error(data, url)
    if isinstance(data.get("instaloader"), Mapping) and isinstance(data.get("node"), Mapping):
        post = post_from_node(data["node"], max_comments=max_comments)
        return InstagramPage([post] if post else [], None)
    holder, conn = _connection(data)
    username = _str(holder.get("username"))
    posts = []
    pinned = set()
    for edge in _list(conn.get("edges")):
        post = post_from_node(_map(_map(edge).get("node")), username, max_comments=max_comments)
        if post is not None:
            posts.append(post)
            if post.extras.get("pinned"):
                pinned.add(post.external_id)
    info = _map(conn.get("page_info"))
    end = _str(info.get("end_cursor")) if info.get("has_next_page") else None
    return InstagramPage(posts, end, _str(holder.get("id")), username, bool(holder.get("is_private")),
                         frozenset(pinned))


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Posts in a saved Instagram JSON answer and the end_cursor of the next older page."""
    page = parse_page(body, url)
    return page.posts, page.end_cursor


def account_name(target: str) -> tuple[str, str] | None:
    """('user', name) for '@name', 'name' or a profile URL; ('tag', name) for '#tag' or a tag URL."""
    value = target.strip()
    if "/" in value:
        path = [p for p in urlsplit(value if "://" in value else "https://" + value).path.split("/") if p]
        if len(path) >= 3 and path[:2] == ["explore", "tags"]:
            value = "#" + path[2]
        elif path:
            value = path[0]
    if value.startswith("#"):
        return ("tag", value[1:]) if _TAG.match(value[1:]) else None
    value = value.removeprefix("@")
    return ("user", value.lower()) if _USERNAME.match(value) and value not in ("p", "reel", "explore") else None


def _after_now(value: str) -> bool:
    try:
        return datetime.fromisoformat(value) > datetime.now(UTC)
    except (ValueError, TypeError):  # a naive or garbled time: do not wait on it
        return False


class InstagramScraper:
    """A public account's recent posts (newest first, paged back on the first run) or a hashtag's top page."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings,
                 loader_posts: Callable[[], Iterable[Mapping[str, Any]]] | None = None) -> None:
        self.source = source
        self.http = http
        self.settings = settings.instagram
        self.http_settings = settings
        opts = options(source, {"max_comments": int, "query_hash": str, "mode": str})
        self.mode = str(opts.get("mode", "web"))
        if self.mode not in ("web", "instaloader"):
            raise ConfigError(f"sources[{source.name}].options.mode: expected 'web' or 'instaloader'")
        target = account_name(source.target)
        if target is None:
            raise ConfigError(f"sources[{source.name}].target: not an Instagram account or #hashtag: {source.target!r}")
        self.kind, self.name = target
        self.max_comments = max(0, int(opts.get("max_comments", 0)))
        self.query_hash = str(opts.get("query_hash", PROFILE_POSTS_QUERY))
        # Read once here (both modes): a bad session file is a configuration error at start.
        self.cookies = load_session_cookies(self.settings)
        # instaloader mode: node dicts (instaloader's `Post._asdict()` form), newest first; tests inject them.
        self.loader_posts = loader_posts or partial(instaloader_posts, self.kind, self.name, http, settings,
                                                    self.source.name)

    def _headers(self) -> dict[str, str]:
        headers = {"X-IG-App-ID": self.settings.app_id, "Accept": "application/json",
                   "Referer": f"https://www.instagram.com/{self.name}/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            if "csrftoken" in self.cookies:
                headers["X-CSRFToken"] = self.cookies["csrftoken"]
        return headers

    def _get(self, url: str, params: Mapping[str, str]) -> tuple[Response, InstagramPage]:
        full = f"{url}?{urlencode(params)}"
        try:
            response = self.http.get(url, params=params, headers=self._headers(), follow_redirects=False,
                                     source=self.source.name)
        except HttpStatusError as e:
            if e.status in (401, 403):
                raise LoginWall(f"Instagram asks for a login (HTTP {e.status}); a session file "
                                "([instagram] session_file) may help", source=self.source.name, url=full) from None
            if e.status == 429:
                raise RateLimited("Instagram rate limit (HTTP 429)", source=self.source.name, url=full) from None
            if e.status == 404:
                raise ScrapeError(f"no such Instagram {'hashtag' if self.kind == 'tag' else 'account'} "
                                  f"{self.name!r} (HTTP 404)", source=self.source.name, url=full) from None
            raise
        if response.redirect_to is not None:
            if "/accounts/login" in response.redirect_to or "/challenge" in response.redirect_to:
                raise LoginWall(f"Instagram redirected to its login page ({response.redirect_to})",
                                source=self.source.name, url=full)
            raise ScrapeError(f"unexpected redirect to {response.redirect_to}", source=self.source.name, url=full)
        try:
            page = parse_page(response.body, response.url, max_comments=self.max_comments)
        except ScrapeError as e:
            raise type(e)(bare_message(e), source=self.source.name, url=response.url) from None
        return response, page

    def _first(self) -> tuple[Response, InstagramPage]:
        if self.kind == "tag":
            return self._get(TAG_INFO.format(tag=self.name), {"__a": "1", "__d": "dis"})
        return self._get(PROFILE_INFO, {"username": self.name})

    def _web_batches(self) -> Iterator[_Batch]:
        response, page = self._first()
        if page.is_private and not page.posts:
            raise PrivateAccount("the account is private: its posts need a session of a viewer who "
                                 "follows it ([instagram] session_file)", source=self.source.name, url=response.url)
        while True:
            has_more = bool(page.end_cursor and page.user_id and self.kind == "user")
            yield _Batch(response.url, with_snapshot(page.posts, response), page.pinned, has_more)
            if not has_more:
                return
            variables = json.dumps({"id": page.user_id, "first": PAGE_SIZE, "after": page.end_cursor},
                                   separators=(",", ":"))
            response, page = self._get(GRAPHQL, {"query_hash": self.query_hash, "variables": variables})

    def _loader_batches(self) -> Iterator[_Batch]:
        url = f"https://www.instagram.com/{'explore/tags/' if self.kind == 'tag' else ''}{self.name}/"
        nodes = iter(self.loader_posts())
        while True:
            chunk: list[Mapping[str, Any]] = []
            try:
                for node in nodes:
                    chunk.append(node)
                    if len(chunk) == PAGE_SIZE:
                        break
            except Exception as e:
                raise from_instaloader(e, self.source.name, url) from e
            if not chunk:
                return
            posts = [p for p in (post_from_node(n, self.name if self.kind == "user" else None,
                                                max_comments=self.max_comments) for n in chunk) if p]
            evidence = json.dumps(chunk, ensure_ascii=False, default=str).encode()
            snap = Snapshot(url, evidence, datetime.now(UTC), "application/json")
            pinned = frozenset(p.external_id for p in posts if p.extras.get("pinned"))
            yield _Batch(url, tuple(dataclasses.replace(p, snapshot=snap) for p in posts), pinned, None)

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """Newest page first, older ones after it; later runs stop at the newest post already seen."""
        until = cursor.get("backoff_until")
        if isinstance(until, str) and _after_now(until):
            raise RateLimited(f"backing off after the last refusal until {until}", source=self.source.name)
        last = cursor.get("last_taken_at")
        last_at = int(last) if isinstance(last, int) and not isinstance(last, bool) else 0
        saved = {k: v for k, v in cursor.items() if k != "backoff_until"}
        newest = last_at
        url = PROFILE_INFO
        try:
            batches = self._loader_batches() if self.mode == "instaloader" else self._web_batches()
            for page_no, batch in enumerate(batches):
                url = batch.url
                new = tuple(p for p in batch.posts if int(p.published_at.timestamp()) > last_at)
                newest = max([newest, *(int(p.published_at.timestamp()) for p in new)])
                # Pinned posts stand first whatever their age: only an old unpinned post ends the run.
                reached_seen = any(int(p.published_at.timestamp()) <= last_at and p.external_id not in batch.pinned
                                   for p in batch.posts)
                is_last = batch.has_more is False or reached_seen or page_no == self.source.max_pages - 1
                # The cursor moves only after the last page: a failure midway re-reads (deduplicated) posts.
                out = {**saved, "last_taken_at": newest} if is_last and newest else dict(saved)
                yield Page(batch.url, new, out)
                if is_last:
                    return
            # The posts ran out without a last page known in advance (instaloader mode).
            yield Page(url, (), {**saved, "last_taken_at": newest} if newest else dict(saved))
        except (RateLimited, LoginWall) as e:
            # Save when to try again, then fail the run: the scheduler's next runs skip the source until then.
            until_at = datetime.now(UTC) + timedelta(seconds=self.settings.backoff_s)
            yield Page(e.url or url, (), {**saved, "backoff_until": until_at.isoformat(timespec="seconds")})
            raise type(e)(f"{bare_message(e)}; backing off until {until_at.isoformat(timespec='seconds')}",
                          source=self.source.name, url=e.url) from None


@dataclass(frozen=True, slots=True)
class _Batch:
    url: str
    posts: tuple[Post, ...]
    pinned: frozenset[str]
    has_more: bool | None  # None: not known until the next one is asked for

__all__ = ["InstagramPage", "InstagramScraper", "LoginWall", "PerHostRateController", "PrivateAccount",
           "RateLimited", "account_name", "from_instaloader", "from_iphone", "load_session_cookies", "parse",
           "parse_page", "post_from_node"]
