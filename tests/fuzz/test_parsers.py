"""Every scraper's parse() on mutated and truncated copies of our own recorded responses:
the only outcomes allowed are a result or one of the project's own errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.errors import MonitorError
from monitor.core.posts import Post
from scrapers import generic, news, telegram, vk, youtube
from tests.scrapers.helpers import fixture

Parse = Callable[[bytes, str], tuple[list[Post], str | None]]
PARSERS: dict[str, tuple[Parse, str, list[str]]] = {
    "telegram": (telegram.parse, "https://t.me/s/example",
                 ["telegram/channel_latest.html", "telegram/channel_before_181.html"]),
    "vk": (vk.parse, "https://api.vk.com/method/wall.get", ["vk/wall_get.json", "vk/newsfeed_search.json"]),
    "youtube": (youtube.parse, "https://www.youtube.com/feeds/videos.xml",
                ["youtube/videos.json", "youtube/channel_feed.xml"]),
    "news": (news.parse, "https://news.example.kz/rss", ["news/feed_rss.xml", "news/feed_atom.xml", "news/article.html"]),
    "generic": (generic.parse, "https://school.example.kz/news", ["generic/school_news.html"]),
}
ODD_BYTES = [b"\x00", b"9" * 400, b"NaN", b"Infinity", b"-1", b"\xff\xfe", b"<", b"]]>", b"&#0;", b"&#xD800;",
             b"\\ud800", b"/etc/passwd", b"/dev/zero", b"1e999", b'"', b"}", b"{"]
ODD_VALUES: list[Any] = [1, -1, 0, None, "", "\x00", "\ud800", 10**400, math.nan, math.inf, [], {}, "1" * 400,
                         [1], {"items": 1}, True, 1.5, "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]


def check(parse: Parse, body: bytes, url: str) -> None:
    """parse() either gives posts that the boundary accepts or fails with a MonitorError."""
    try:
        posts, _next = parse(body, url)
    except MonitorError:
        return
    assert isinstance(posts, list)
    for post in posts:
        assert isinstance(post, Post)


@st.composite
def byte_mutation(draw: st.DrawFn, original: bytes) -> bytes:
    """A copy truncated, or with one slice replaced by odd bytes or random bytes."""
    kind = draw(st.sampled_from(["truncate", "odd", "random"]))
    at = draw(st.integers(0, len(original)))
    if kind == "truncate":
        return original[:at]
    end = draw(st.integers(at, min(len(original), at + 40)))
    insert = draw(st.sampled_from(ODD_BYTES)) if kind == "odd" else draw(st.binary(max_size=40))
    return original[:at] + insert + original[end:]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def json_mutation(draw: st.DrawFn, original: bytes) -> bytes:
    """The JSON document with one value (anywhere in the tree) replaced by an odd one."""
    doc = json.loads(original)
    path = draw(st.sampled_from(_paths(doc)))
    value = draw(st.sampled_from(ODD_VALUES))
    if not path:
        doc = value
    else:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return json.dumps(doc, ensure_ascii=True).encode()


CASES = [(name, rel) for name, (_, _, rels) in PARSERS.items() for rel in rels]


@pytest.mark.filterwarnings("ignore")  # third-party parsers may warn on garbage; only exceptions matter here
@pytest.mark.parametrize(("name", "rel"), CASES, ids=[rel for _, rel in CASES])
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_parse_survives_byte_mutations(name: str, rel: str, data: st.DataObject) -> None:
    parse, url, _ = PARSERS[name]
    check(parse, data.draw(byte_mutation(fixture(rel))), url)


JSON_CASES = [(name, rel) for name, rel in CASES if rel.endswith(".json")]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("name", "rel"), JSON_CASES, ids=[rel for _, rel in JSON_CASES])
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parse_survives_odd_json_values(name: str, rel: str, data: st.DataObject) -> None:
    parse, url, _ = PARSERS[name]
    check(parse, data.draw(json_mutation(fixture(rel))), url)
