"""YouTube: channel Atom feeds (no key, latest 15 videos) and, with an API key, keyword search in KZ."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from lxml import etree

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Media, Post, parse_datetime
from monitor.ingest.http import HttpClient, Response
from scrapers.base import (
    Page,
    as_int,
    as_list,
    each_item,
    options,
    remember,
    with_snapshot,
    without_bad_char_refs,
)

PLATFORM = "youtube"
FEED_URL = "https://www.youtube.com/feeds/videos.xml"
API = "https://www.googleapis.com/youtube/v3/"
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}
_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_CHANNEL_ID = re.compile(r"^UC[\w-]{22}$")


def iso_duration(value: str) -> int | None:
    """'PT1M30S' -> 90; None when not an ISO 8601 duration."""
    match = _ISO_DURATION.match(value or "")
    if not match or not any(match.groups()):
        return None
    if any(g and len(g) > 9 for g in match.groups()):
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return d * 86400 + h * 3600 + m * 60 + s


def watch_url(video_id: str) -> str:
    """The public page of a video."""
    return f"https://www.youtube.com/watch?v={video_id}"


def _video(video_id: str, title: str, description: str, published: datetime, channel: str | None,
           thumb: str | None, duration: int | None, extras: dict[str, Any]) -> Post:
    text = f"{title}\n\n{description}".strip() if description else title
    return Post(
        platform=PLATFORM,
        external_id=video_id,
        url=watch_url(video_id),
        text=text,
        published_at=published,
        author=channel,
        media=(Media("video", watch_url(video_id), thumb, duration),),
        extras={"title": title, **extras},
    )


def parse_feed(body: bytes | str, url: str) -> list[Post]:
    """Videos in a channel feed (/feeds/videos.xml); entries without id or date are skipped."""
    raw = without_bad_char_refs(body.encode() if isinstance(body, str) else body)
    if not raw.strip():
        return []
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    except etree.XMLSyntaxError as e:
        raise ScrapeError(f"YouTube feed is not XML: {e}", url=url) from None
    if root is None:
        raise ScrapeError("YouTube feed is not XML", url=url)
    if root.tag != f"{{{NS['a']}}}feed":
        # E.g. a cookie-consent HTML page answered with 200 instead of the feed.
        # The local name by hand: lxml's QName raises on a namespace that holds "}" (found by the fuzz test).
        raise ScrapeError(f"not a YouTube channel feed (root element <{str(root.tag).rpartition('}')[2]}>)", url=url)
    return each_item(root.iterfind("a:entry", NS), _feed_video, url)


def _feed_video(entry: Any) -> Post | None:
    """One <entry> of a channel feed; None without an id or a readable date."""
    video_id = entry.findtext("yt:videoId", namespaces=NS)
    try:
        published = parse_datetime(entry.findtext("a:published", namespaces=NS))
    except ValueError:
        return None
    if not video_id:
        return None
    group = entry.find("media:group", NS)
    description = group.findtext("media:description", "", NS) if group is not None else ""
    thumb_el = group.find("media:thumbnail", NS) if group is not None else None
    stats = group.find("media:community/media:statistics", NS) if group is not None else None
    extras: dict[str, Any] = {"channel_id": entry.findtext("yt:channelId", namespaces=NS)}
    views = as_int(stats.get("views")) if stats is not None else None
    if views is not None:
        extras["views"] = views
    return _video(
        video_id.strip(), (entry.findtext("a:title", "", NS) or "").strip(), description.strip(), published,
        entry.findtext("a:author/a:name", namespaces=NS), thumb_el.get("url") if thumb_el is not None else None,
        None, extras,
    )


def _json(body: bytes | str, url: str) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ScrapeError(f"YouTube API answer is not JSON: {e}", url=url) from None
    if not isinstance(data, Mapping):
        raise ScrapeError("YouTube API answer is not a JSON object", url=url)
    if isinstance(data.get("error"), Mapping):
        err = data["error"]
        reasons = ",".join(str(e.get("reason")) for e in err.get("errors") or [] if isinstance(e, Mapping))
        raise ScrapeError(f"YouTube API error {err.get('code')}: {err.get('message')} ({reasons})", url=url)
    return data


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def parse_videos(body: bytes | str, url: str) -> list[Post]:
    """Videos in a saved videos.list answer (snippet, contentDetails, statistics)."""
    return each_item(as_list(_json(body, url).get("items")), _api_video, url)


def _api_video(item: Any) -> Post | None:
    """One videos.list item; None without a snippet or a readable date."""
    if not isinstance(item, Mapping) or not isinstance(item.get("snippet"), Mapping):
        return None
    snip = item["snippet"]
    try:
        published = parse_datetime(snip.get("publishedAt"))
    except ValueError:
        return None
    thumbs = _mapping(snip.get("thumbnails"))
    thumb = next((str(_mapping(thumbs.get(k))["url"]) for k in ("high", "medium", "default")
                  if _mapping(thumbs.get(k)).get("url")), None)
    details = _mapping(item.get("contentDetails"))
    stats = _mapping(item.get("statistics"))
    extras: dict[str, Any] = {"channel_id": snip.get("channelId")}
    views = as_int(stats.get("viewCount"))
    if views is not None:
        extras["views"] = views
    if snip.get("defaultAudioLanguage") or snip.get("defaultLanguage"):
        extras["declared_language"] = snip.get("defaultAudioLanguage") or snip.get("defaultLanguage")
    return _video(str(item.get("id")), str(snip.get("title") or ""), str(snip.get("description") or ""),
                  published, snip.get("channelTitle"), thumb, iso_duration(str(details.get("duration", ""))), extras)


def parse_search(body: bytes | str, url: str) -> tuple[list[str], str | None]:
    """Video ids in a saved search.list answer and its nextPageToken."""
    data = _json(body, url)
    ids = [str(i["id"]["videoId"]) for i in as_list(data.get("items"))
           if isinstance(i, Mapping) and isinstance(i.get("id"), Mapping) and i["id"].get("videoId")]
    token = data.get("nextPageToken")
    return ids, str(token) if token else None


def parse(body: bytes | str, url: str) -> tuple[list[Post], str | None]:
    """Posts from a saved channel feed or videos.list answer (told apart by the first byte)."""
    raw = body.lstrip() if isinstance(body, bytes) else body.lstrip().encode()
    if raw.startswith(b"{"):
        return parse_videos(raw, url), None
    return parse_feed(raw, url), None


class YoutubeScraper:
    """A channel feed (mode='feed', target: channel id UC...) or an API keyword search (mode='search')."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, source: SourceSettings, http: HttpClient, settings: HttpSettings) -> None:
        self.source = source
        self.http = http
        self.settings = settings
        opts = options(source, {"mode": str, "region": str, "languages": list, "lookback_days": int})
        self.mode = opts.get("mode", "feed")
        if self.mode not in ("feed", "search"):
            raise ConfigError(f"sources[{source.name}].options.mode: expected 'feed' or 'search'")
        if self.mode == "feed" and not _CHANNEL_ID.match(source.target.strip()):
            raise ConfigError(f"sources[{source.name}].target: expected a channel id like UC... (24 characters)")
        self.region = opts.get("region", "KZ")
        self.languages = [str(x) for x in opts.get("languages", ["ru", "kk"])]
        self.lookback = timedelta(days=opts.get("lookback_days", 7))

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """Feed: the latest 15 (conditional GET); search: one search per language, then videos.list."""
        if self.mode == "feed":
            yield from self._feed(cursor)
        else:
            yield from self._search(cursor)

    def _feed(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        validators = cursor.get("validators") if isinstance(cursor.get("validators"), Mapping) else None
        response = self.http.get(FEED_URL, params={"channel_id": self.source.target.strip()},
                                 validators=validators, source=self.source.name)
        if response.is_not_modified:
            yield Page(response.url, (), dict(cursor), is_not_modified=True)
            return
        try:
            posts = parse_feed(response.body, response.url)
        except ScrapeError as e:
            raise ScrapeError(str(e).split(": ", 1)[-1], source=self.source.name, url=response.url) from None
        yield Page(response.url, with_snapshot(posts, response), {"validators": response.validators})

    def _api_key(self) -> str:
        if self.settings.youtube_api_key is None:
            raise ScrapeError("YouTube search needs an API key: set MONITOR_YOUTUBE_API_KEY", source=self.source.name)
        return self.settings.youtube_api_key.get_secret_value()

    def _api(self, method: str, params: dict[str, str | int]) -> Response:
        response = self.http.get(API + method, params={**params, "key": self._api_key()}, source=self.source.name)
        # Keep the key out of the evidence URL.
        return Response(API + method, response.status, response.headers, response.body, response.fetched_at)

    def _search(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        seen = [str(x) for x in cursor.get("seen", []) if isinstance(x, str)]
        now = datetime.now(UTC)
        since = str(cursor.get("since") or (now - self.lookback).isoformat(timespec="seconds"))
        for language in self.languages:
            token: str | None = None
            for _ in range(self.source.max_pages):
                params: dict[str, str | int] = {
                    "part": "snippet", "type": "video", "q": self.source.target, "regionCode": self.region,
                    "relevanceLanguage": language, "order": "date", "maxResults": 50, "publishedAfter": since,
                }
                if token:
                    params["pageToken"] = token
                try:
                    ids, token = parse_search(self._api("search", params).body, API + "search")
                    new_ids = [i for i in ids if i not in seen]
                    posts: list[Post] = []
                    response = None
                    if new_ids:
                        response = self._api("videos", {"part": "snippet,contentDetails,statistics",
                                                        "id": ",".join(new_ids)})
                        posts = parse_videos(response.body, response.url)
                except ScrapeError as e:
                    raise ScrapeError(str(e).split(": ", 1)[-1], source=self.source.name, url=e.url) from None
                seen = remember(seen, new_ids)
                stored = with_snapshot(posts, response) if response is not None else ()
                yield Page(API + "search", stored, {"since": since, "seen": seen})
                if not token or not new_ids:
                    break
        # The next run searches from this run's start (minus a day: the index lags behind uploads).
        yield Page(API + "search", (), {"since": (now - timedelta(days=1)).isoformat(timespec="seconds"),
                                        "seen": seen})
