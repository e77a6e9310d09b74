"""Video pages of any site yt-dlp supports (TikTok, Instagram, VK, YouTube accounts and playlists): metadata only.

yt-dlp is used as a library with download=False: it lists an account or playlist flat, then reads each new
video's metadata. Downloading the media belongs to the media job. yt-dlp does its own HTTP; our per-host
interval is handed to it as `sleep_interval_requests`, our timeouts and proxy likewise.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Media, Post, Snapshot
from monitor.ingest.http import HttpClient
from scrapers.base import Page, bare_message, options, remember, utc_from_timestamp

PLATFORM = "video"
# (url, flat) -> yt-dlp's info dict of the page: flat lists a playlist's entries without visiting each video.
Extractor = Callable[[str, bool], Mapping[str, Any]]


class UnsupportedTarget(ScrapeError):
    """yt-dlp has no extractor for the URL."""


class PrivateTarget(ScrapeError):
    """The account, playlist or video is private, removed or needs a login."""


_PRIVATE_HINTS = ("private", "login", "log in", "sign in", "members-only", "unavailable", "removed",
                  "does not exist", "not available", "age-restricted", "cookies")


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(value)


def _published(info: Mapping[str, Any]) -> datetime | None:
    for key in ("timestamp", "release_timestamp"):
        when = utc_from_timestamp(info.get(key))
        if when is not None:
            return when
    for key in ("upload_date", "release_date"):
        value = info.get(key)
        if isinstance(value, str) and len(value) == 8 and value.isdigit():
            try:
                return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def _thumbnail(info: Mapping[str, Any]) -> str | None:
    if _str(info.get("thumbnail")):
        return str(info["thumbnail"])
    thumbs = [t for t in info.get("thumbnails") or [] if isinstance(t, Mapping) and _str(t.get("url"))]
    # yt-dlp sorts thumbnails worst to best.
    return str(thumbs[-1]["url"]) if thumbs else None


def video_key(info: Mapping[str, Any]) -> str | None:
    """'<extractor>:<id>' (ids are unique per site only), None without an id."""
    video_id = _str(info.get("id"))
    site = _str(info.get("extractor_key") or info.get("ie_key") or info.get("extractor")) or "generic"
    return f"{site.lower()}:{video_id}" if video_id else None


def page_url(info: Mapping[str, Any]) -> str | None:
    """The video's public page."""
    for key in ("webpage_url", "original_url", "url"):
        value = _str(info.get(key))
        if value and value.startswith(("http://", "https://")):
            return value
    return None


def post_from_info(info: Mapping[str, Any]) -> Post | None:
    """One post from one video's info dict; None when it lacks an id, a page URL or an upload time."""
    key, url, published = video_key(info), page_url(info), _published(info)
    if key is None or url is None or published is None:
        return None
    title = (_str(info.get("title")) or "").strip()
    description = (_str(info.get("description")) or "").strip()
    # TikTok and Instagram titles are the description cut short: keep one of them.
    if title and description.startswith(title.rstrip(".… ")):
        text = description
    else:
        text = f"{title}\n\n{description}".strip() if description else title
    extras: dict[str, Any] = {"title": title, "site": _str(info.get("extractor_key") or info.get("ie_key"))}
    for key_out, key_in in (("views", "view_count"), ("likes", "like_count"), ("comments", "comment_count"),
                            ("reposts", "repost_count")):
        number = _int(info.get(key_in))
        if number is not None:
            extras[key_out] = number
    for key_out, key_in in (("uploader_id", "uploader_id"), ("channel_url", "channel_url"),
                            ("uploader_url", "uploader_url"), ("playlist", "playlist_title")):
        value = _str(info.get(key_in))
        if value:
            extras[key_out] = value
    author = _str(info.get("uploader")) or _str(info.get("channel")) or _str(info.get("uploader_id"))
    return Post(
        platform=PLATFORM, external_id=key, url=url, text=text, published_at=published, author=author,
        media=(Media("video", url, _thumbnail(info), _int(info.get("duration"))),), extras=extras,
    )


def entries(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The videos of a playlist info dict (nested playlists, such as a channel's tabs, flattened)."""
    if info.get("_type") not in ("playlist", "multi_video") and "entries" not in info:
        return [info]
    out: list[Mapping[str, Any]] = []
    for entry in info.get("entries") or []:
        if isinstance(entry, Mapping):
            out.extend(entries(entry) if entry.get("_type") == "playlist" else [entry])
    return out


def _load(body: bytes | str, url: str) -> list[Mapping[str, Any]]:
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return []
    try:
        docs = [json.loads(text)]
    except ValueError:
        # `yt-dlp -j` prints one info dict per line.
        try:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as e:
            raise ScrapeError(f"not a yt-dlp info JSON: {e}", url=url) from None
    infos = [d for d in docs if isinstance(d, Mapping)]
    if len(infos) != len(docs):
        raise ScrapeError("not a yt-dlp info JSON (expected objects)", url=url)
    return infos


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Posts from a saved yt-dlp info dict (a video, a playlist with entries, or JSON lines of videos)."""
    posts = []
    for info in _load(body, url):
        for entry in entries(info):
            post = post_from_info(entry)
            if post is not None:
                posts.append(post)
    return posts, None


def describe_error(message: str) -> tuple[type[ScrapeError], str]:
    """Our error class and message for a yt-dlp error message."""
    text = message.removeprefix("ERROR: ").strip()
    if "Unsupported URL" in text:
        return UnsupportedTarget, f"not a page yt-dlp supports ({text})"
    if any(hint in text.lower() for hint in _PRIVATE_HINTS):
        return PrivateTarget, f"private, removed or login-only ({text})"
    return ScrapeError, f"yt-dlp: {text}"


def ytdlp_extractor(settings: HttpSettings, limit: int) -> Extractor:
    """The real extractor: yt_dlp.YoutubeDL without download, at our pace, timeouts and proxy."""
    import yt_dlp

    def extract(url: str, flat: bool) -> Mapping[str, Any]:
        params: dict[str, Any] = {
            "quiet": True, "no_warnings": True, "skip_download": True, "noprogress": True,
            "extract_flat": "in_playlist" if flat else False, "playlistend": limit, "lazy_playlist": True,
            "socket_timeout": settings.read_timeout_s, "sleep_interval_requests": settings.rate_limit_per_host_s,
            "http_headers": {"User-Agent": settings.user_agent}, "retries": settings.max_retries,
        }
        if settings.proxy:
            params["proxy"] = settings.proxy
        try:
            with yt_dlp.YoutubeDL(params) as ydl:
                info = ydl.extract_info(url, download=False)
                return dict(ydl.sanitize_info(info)) if isinstance(info, Mapping) else {}
        except yt_dlp.utils.DownloadError as e:
            error, message = describe_error(str(e))
            raise error(message, url=url) from e
        except yt_dlp.utils.YoutubeDLError as e:
            raise ScrapeError(f"yt-dlp: {e}", url=url) from e

    return extract


class VideoScraper:
    """An account or playlist page: list it flat, read each video not seen before, one post per video."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings,
                 extractor: Extractor | None = None) -> None:
        self.source = source
        opts = options(source, {"max_videos": int})
        target = source.target.strip()
        if not target.startswith(("http://", "https://")):
            raise ConfigError(f"sources[{source.name}].target: expected an account or playlist URL, got {target!r}")
        self.target = target
        self.max_videos = max(1, int(opts.get("max_videos", 30)))
        self.extract = extractor or ytdlp_extractor(settings, self.max_videos)

    def _call(self, url: str, flat: bool) -> Mapping[str, Any]:
        try:
            return self.extract(url, flat)
        except ScrapeError as e:
            raise type(e)(bare_message(e), source=self.source.name, url=url) from e

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """One page: the new videos of the listing (by id, newest listing order), details read per video."""
        seen = [str(x) for x in cursor.get("seen", []) if isinstance(x, str)]
        listing = self._call(self.target, True)
        listed = entries(listing)[: self.max_videos]
        fetched_at = datetime.now(UTC)
        posts: list[Post] = []
        new_keys: list[str] = []
        details: list[Mapping[str, Any]] = []
        notes: list[str] = []
        for entry in listed:
            key = video_key(entry)
            if key is None or key in seen or key in new_keys:
                continue
            post = post_from_info(entry)
            if post is None:
                # Flat entries (YouTube's above all) carry no upload time: read that video's page.
                url = page_url(entry)
                if url is None:
                    continue
                try:
                    info = self._call(url, False)
                except PrivateTarget as e:
                    # One private or removed video does not stop the account: note it, go on.
                    notes.append(str(e))
                    continue
                details.append(info)
                post = post_from_info(info)
            if post is not None:
                posts.append(post)
                new_keys.append(key)
        evidence = json.dumps({"listing": listing, "details": details}, ensure_ascii=False, default=str).encode()
        snap = Snapshot(self.target, evidence, fetched_at, "application/json")
        stored = tuple(dataclasses.replace(p, snapshot=snap) for p in posts)
        yield Page(self.target, stored, {"seen": remember(seen, new_keys)}, notes=tuple(notes))
