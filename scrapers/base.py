"""The small scraper interface: a class with a `platform` and a fetch loop yielding pages of finished posts."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar

from monitor.core.config import HttpSettings, SourceSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.core.posts import Post, Snapshot
from monitor.ingest.http import HttpClient, Response

# Bound on remembered ids for sources without ordered ids (news, generic pages).
SEEN_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: its posts (with snapshots) and the cursor to save once they are stored."""

    url: str
    posts: tuple[Post, ...]
    cursor: Mapping[str, Any]
    is_not_modified: bool = False
    notes: tuple[str, ...] = field(default=())


class Scraper(Protocol):
    """What the run loop needs from a scraper: its platform name and a fetch loop."""

    platform: ClassVar[str]

    def pages(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """Fetch what is new since `cursor`, page by page; each page carries the cursor to save after it."""
        ...


# A scraper class: built from its source settings, the shared HTTP client and the http settings.
ScraperFactory = Callable[[SourceSettings, HttpClient, HttpSettings], Scraper]


def with_snapshot(posts: Sequence[Post], response: Response) -> tuple[Post, ...]:
    """The posts with the raw response they were parsed from attached as evidence."""
    snap = Snapshot(response.url, response.body, response.fetched_at, response.content_type)
    return tuple(dataclasses.replace(p, snapshot=snap) for p in posts)


def options(source: SourceSettings, allowed: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The source's options checked against `allowed` (name -> type); ConfigError names the bad key."""
    out: dict[str, Any] = {}
    for key, value in source.options.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"sources[{source.name}].options.{key}: unknown option (known: {known})")
        expected = allowed[key]
        if isinstance(value, bool) and expected in (int, float):
            raise ConfigError(f"sources[{source.name}].options.{key}: expected a number")
        if not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else "/".join(t.__name__ for t in expected)
            raise ConfigError(f"sources[{source.name}].options.{key}: expected {names}, got {value!r}")
        out[key] = value
    return out


def bare_message(e: ScrapeError) -> str:
    """The message of a ScrapeError without its 'source NAME URL: ' prefix."""
    where = " ".join(p for p in (f"source {e.source}" if e.source else "", e.url or "") if p)
    text = str(e)
    return text[len(where) + 2:] if where and text.startswith(where + ": ") else text


def remember(seen: Sequence[str], new: Sequence[str]) -> list[str]:
    """Newest-first list of seen ids, bounded to SEEN_LIMIT."""
    merged = list(dict.fromkeys([*new, *seen]))
    return merged[:SEEN_LIMIT]


def utc_from_timestamp(value: Any) -> datetime | None:
    """Aware UTC from a unix timestamp, None when not a sane number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


T = TypeVar("T")

# What odd values in an answer raise inside an item's parsing (a number where a list was, NaN widths, ...).
ITEM_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)
log = logging.getLogger(__name__)


def as_list(value: Any) -> list[Any]:
    """value when it is a list, else an empty one (an answer with "items": 1 has no items)."""
    return value if isinstance(value, list) else []


def as_int(value: Any, limit: int = 10**15) -> int | None:
    """A finite whole number within ±limit from an int, float or digit string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > len(str(limit)):
            return None
        value = int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value)
    if not isinstance(value, int) or abs(value) > limit:
        return None
    return value


def each_item(items: Iterable[Any], build: Callable[[Any], T | None], url: str) -> list[T]:
    """build(item) for every item; an item whose odd values make it fail is skipped with a logged reason."""
    posts: list[T] = []
    for index, item in enumerate(items):
        try:
            post = build(item)
        except ITEM_ERRORS as e:
            log.warning("%s: skipped item %d: %s", url, index, type(e).__name__)
            continue
        if post is not None:
            posts.append(post)
    return posts


# Character references to NUL or to a UTF-16 surrogate (&#0; &#xD800; &#55296;): no text may hold them, and
# XML parsers in recovery mode hand them on as undecodable bytes. They become U+FFFD before parsing.
_BAD_CHAR_REF = re.compile(
    rb"&#(?:[xX]0*(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0+)|0*(?:5529[6-9]|55[3-9]\d\d|56\d{3}|57[0-2]\d\d|"
    rb"573[0-3]\d|5734[0-3])|0+);"
)


def without_bad_char_refs(body: bytes) -> bytes:
    """The body with NUL and surrogate character references replaced by &#xFFFD; (encoding kept)."""
    return _BAD_CHAR_REF.sub(b"&#xFFFD;", body) if b"&#" in body else body
