"""Post and Media: the frozen records scrapers yield and `monitor ingest` reads (no ORM here)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from monitor.core.boundary import post_problem

MediaType = Literal["photo", "video"]
MAX_TEXT_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class Media:
    """A photo or video attached to a post."""

    type: MediaType
    url: str
    thumbnail_url: str | None = None
    duration_s: int | None = None

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form, without empty optional fields."""
        out: dict[str, Any] = {"type": self.type, "url": self.url}
        if self.thumbnail_url:
            out["thumbnail_url"] = self.thumbnail_url
        if self.duration_s is not None:
            out["duration_s"] = self.duration_s
        return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The raw response a post was parsed from: kept (compressed) as evidence."""

    url: str
    body: bytes
    fetched_at: datetime
    content_type: str = ""

    @property
    def sha256(self) -> str:
        """Hex digest of the raw body."""
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True, slots=True)
class Post:
    """One public post, normalized by its scraper or read from an import file."""

    platform: str
    external_id: str
    url: str
    text: str
    published_at: datetime
    author: str | None = None
    media: tuple[Media, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)
    snapshot: Snapshot | None = None

    @property
    def has_video(self) -> bool:
        """True when any attached media is a video."""
        return any(m.type == "video" for m in self.media)

    def to_record(self) -> dict[str, Any]:
        """The ingest-format JSON object (plus platform extras)."""
        out: dict[str, Any] = {
            "platform": self.platform,
            "external_id": self.external_id,
            "url": self.url,
            "text": self.text,
            "published_at": self.published_at.isoformat(),
            "author": self.author,
            "media": [m.to_record() for m in self.media],
        }
        for key, value in self.extras.items():
            out.setdefault(key, value)
        return out


_SPACES = re.compile(r"\s+")
_URLS = re.compile(r"https?://\S+")


def normalize_text(text: str) -> str:
    """Case-, space- and URL-insensitive form used for cross-source duplicate detection."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _URLS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def content_key(text: str, url: str) -> str:
    """Hash of normalized text + URL: equal keys across sources mean the same content."""
    return hashlib.sha256(f"{normalize_text(text)}\x00{url.strip()}".encode()).hexdigest()


def parse_datetime(value: Any) -> datetime:
    """Parse an ISO 8601 timestamp that carries an offset into aware UTC; ValueError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an ISO 8601 timestamp with offset")
    raw = value.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no UTC offset: {value[:40]!r}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 lies before year 1 in UTC
        raise ValueError(f"timestamp {value[:40]!r} is outside the accepted range "
                         "(2000-01-01 to one day from now)") from None


_REQUIRED = ("platform", "external_id", "url", "text", "published_at")
_KNOWN = set(_REQUIRED) | {"author", "media"}


def post_from_record(record: Any) -> Post:
    """Build a Post from one ingest-format object; ValueError names what is wrong."""
    if not isinstance(record, Mapping):
        raise ValueError("expected a JSON object")
    missing = [k for k in _REQUIRED if record.get(k) in (None, "")]
    if missing == ["text"] and record.get("text") == "" and record.get("media"):
        missing = []  # a photo or video without a caption (Instagram, TikTok) is still a post
    if missing:
        raise ValueError(f"missing field {', '.join(missing)}")
    for key in ("platform", "external_id", "url", "text"):
        if not isinstance(record[key], (str, int)) or isinstance(record[key], bool):
            raise ValueError(f"field {key} must be a string")
    text = str(record["text"])
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text longer than {MAX_TEXT_CHARS} characters")
    url = str(record["url"])
    if not url.startswith(("http://", "https://")):
        raise ValueError("url must be http(s)")
    author = record.get("author")
    if author is not None and not isinstance(author, str):
        raise ValueError("author must be a string")
    media_raw = record.get("media") or []
    if not isinstance(media_raw, list):
        raise ValueError("media must be a list")
    media = []
    for i, m in enumerate(media_raw):
        if not isinstance(m, Mapping) or m.get("type") not in ("photo", "video") or not isinstance(
            m.get("url"), str
        ):
            raise ValueError(f"media[{i}] must be an object with type photo|video and url")
        thumb = m.get("thumbnail_url")
        duration = m.get("duration_s")
        media.append(
            Media(
                type=m["type"],
                url=m["url"],
                thumbnail_url=thumb if isinstance(thumb, str) else None,
                duration_s=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
            )
        )
    extras = {k: v for k, v in record.items() if k not in _KNOWN}
    post = Post(
        platform=str(record["platform"]).strip().lower(),
        external_id=str(record["external_id"]).strip(),
        url=url,
        text=text,
        published_at=parse_datetime(record["published_at"]),
        author=author or None,
        media=tuple(media),
        extras=extras,
    )
    problem = post_problem(post)
    if problem:
        raise ValueError(problem)
    return post


def post_to_json(post: Post) -> str:
    """One JSON line in the ingest format."""
    return json.dumps(post.to_record(), ensure_ascii=False, default=str)


MAX_LINE_BYTES = 4 * MAX_TEXT_CHARS


def read_jsonl(stream: Any) -> Any:
    """Yield (line_no, Post or error message) for each non-blank line of a binary JSONL stream."""
    for line_no, raw in enumerate(stream, start=1):
        if len(raw) > MAX_LINE_BYTES:
            yield line_no, f"line longer than {MAX_LINE_BYTES} bytes"
            continue
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError as e:
            yield line_no, f"not UTF-8 (byte {e.start})"
            continue
        try:
            record = json.loads(text)
        except ValueError as e:
            yield line_no, f"not JSON: {e}"
            continue
        except RecursionError:
            yield line_no, "not JSON: nested too deep"
            continue
        try:
            yield line_no, post_from_record(record)
        except ValueError as e:
            yield line_no, str(e)
