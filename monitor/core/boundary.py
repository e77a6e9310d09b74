"""The one validator at the boundary: what a post may hold before any database sees it.

`monitor ingest`, `POST /api/posts` and every scraper's output go through `check_post`, so
SQLite and PostgreSQL get exactly the same rows (PostgreSQL refuses NUL, lone surrogates and
over-long varchar values that SQLite would keep). Reasons name the field, never its content.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.core.posts import Post

# Column sizes of the post table (core/tables.py: platform varchar(40), external_id/author varchar(300)).
MAX_PLATFORM = 40
MAX_EXTERNAL_ID = 300
MAX_AUTHOR = 300
MAX_URL = 8_000
MAX_JSON_DEPTH = 32
MAX_EXTRAS_STRINGS = 200_000  # total characters of strings inside extras

# Accepted publication times: from 2000-01-01 UTC to one day after now (clock skew, time zones).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def date_problem(value: datetime, now: datetime | None = None) -> str | None:
    """Why a publication time is refused (outside 2000-01-01 .. now + 1 day), or None."""
    now = now or datetime.now(UTC)
    if value.tzinfo is None:
        return "published_at has no UTC offset"
    if value < EARLIEST:
        return "published_at is before 2000-01-01 (accepted: 2000-01-01 to one day from now)"
    if value > now + FUTURE_SLACK:
        return "published_at is more than one day in the future (accepted: 2000-01-01 to one day from now)"
    return None


def text_problem(name: str, value: str, max_len: int | None = None) -> str | None:
    """Why a string field cannot be stored on every database (NUL, lone surrogate, too long), or None."""
    if "\x00" in value:
        return f"{name} contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"{name} contains a lone surrogate (character {e.start})"
    if max_len is not None and len(value) > max_len:
        return f"{name} is longer than {max_len} characters"
    return None


def json_problem(name: str, value: Any) -> str | None:
    """Why a value cannot be stored as JSON on every database (NaN/Infinity, depth, bad strings), or None."""
    budget = [MAX_EXTRAS_STRINGS]
    # Iterative walk: a deeply nested value must not exhaust the Python stack here either.
    stack: list[tuple[Any, int, str]] = [(value, 0, name)]
    while stack:
        item, depth, where = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"{name} is nested deeper than {MAX_JSON_DEPTH} levels"
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{where} is not a finite number (NaN/Infinity)"
            continue
        if isinstance(item, str):
            budget[0] -= len(item)
            problem = text_problem(where, item)
            if problem:
                return problem
            continue
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{where} has a key that is not a string"
                problem = text_problem(f"{where} key", key)
                if problem:
                    return problem
                budget[0] -= len(key)
                stack.append((child, depth + 1, f"{where}.{key[:40]}" if _plain_key(key) else f"{where}[…]"))
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))
            continue
        return f"{where} is not a JSON value ({type(item).__name__})"
    if budget[0] < 0:
        return f"{name} holds more than {MAX_EXTRAS_STRINGS} characters of text"
    return None


def _plain_key(key: str) -> bool:
    return key.isascii() and key.replace("_", "").isalnum()


def post_problem(post: Post, now: datetime | None = None) -> str | None:
    """The first reason this post cannot be stored, or None; the same rule for both databases."""
    if not post.platform.strip():
        return "platform is empty"
    if not post.external_id.strip():
        return "external_id is empty"
    checks = (
        text_problem("platform", post.platform, MAX_PLATFORM),
        text_problem("external_id", post.external_id, MAX_EXTERNAL_ID),
        text_problem("url", post.url, MAX_URL),
        text_problem("text", post.text),
        text_problem("author", post.author, MAX_AUTHOR) if post.author is not None else None,
    )
    for problem in checks:
        if problem:
            return problem
    for i, m in enumerate(post.media):
        for field, value in (("url", m.url), ("thumbnail_url", m.thumbnail_url)):
            problem = text_problem(f"media[{i}].{field}", value, MAX_URL) if value is not None else None
            if problem:
                return problem
    problem = json_problem("extras", dict(post.extras))
    if problem:
        return problem
    return date_problem(post.published_at, now)


def clamp_shift(value: datetime, delta: timedelta) -> datetime:
    """value + delta, saturating at the ends of the calendar instead of raising OverflowError."""
    try:
        return value + delta
    except OverflowError:
        edge = datetime.max if delta > timedelta(0) else datetime.min
        return edge.replace(tzinfo=value.tzinfo)


def in_zone(value: datetime, zone: tzinfo) -> datetime:
    """value shown in `zone`; unchanged (UTC) when the conversion would leave the calendar."""
    try:
        return value.astimezone(zone)
    except (OverflowError, ValueError):
        return value


def safe_label(value: str, limit: int) -> str:
    """An id fit for a log line: printable ASCII escapes, cut to `limit` characters."""
    return ascii(value[:limit])[1:-1]
