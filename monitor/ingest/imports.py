"""Collectors' files on import: our JSONL, instaloader's saved `*.json(.xz)`, yt-dlp's `*.info.json`.

Every reader yields (where, Post or error message); `where` is 'FILE:line N' or 'FILE'. Posts from the
collectors' formats go through the same record validation as JSONL (`post_from_record`).
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from monitor.core.posts import Post, post_from_record, read_jsonl

FORMATS = ("jsonl", "instaloader", "yt-dlp")
MAX_FILE_BYTES = 50_000_000
Item = tuple[str, Post | str]


def _validated(post: Post) -> Post:
    # The record round trip applies the JSONL checks (http(s) URL, text length, media shape, offset time).
    return post_from_record(post.to_record())


def _read(path: Path) -> bytes:
    opener: Callable[..., BinaryIO] = lzma.open if path.name.endswith(".xz") else open  # type: ignore[assignment]
    with opener(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"file larger than {MAX_FILE_BYTES} bytes")
    return data


def _json_file(path: Path) -> Any:
    try:
        data = _read(path)
    except lzma.LZMAError as e:
        raise ValueError(f"not an xz file: {e}") from None
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 (byte {e.start})") from None
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from None


def read_instaloader_file(path: Path) -> Iterator[Item]:
    """The post in one instaloader structure file; other structures (Profile, comments) are reported."""
    from scrapers.instagram import post_from_node

    where = str(path)
    try:
        data = _json_file(path)
    except (OSError, ValueError) as e:
        yield where, str(e) if isinstance(e, ValueError) else f"cannot read: {e.strerror or e}"
        return
    if not isinstance(data, dict) or not isinstance(data.get("node"), dict) \
            or not isinstance(data.get("instaloader"), dict):
        yield where, "not an instaloader structure (expected {\"node\": ..., \"instaloader\": ...})"
        return
    node_type = data["instaloader"].get("node_type")
    if node_type not in ("Post", "StoryItem"):
        yield where, f"an instaloader {node_type} structure, not a post"
        return
    try:
        post = post_from_node(data["node"])
        if post is None:
            yield where, "post without shortcode or time"
            return
        yield where, _validated(post)
    except ValueError as e:
        yield where, str(e)


def read_ytdlp_file(path: Path) -> Iterator[Item]:
    """The videos in one yt-dlp file: an `.info.json` (a video or a playlist with entries) or `-j` lines."""
    from scrapers.video import entries, post_from_info

    try:
        raw = _read(path)
    except (OSError, ValueError, lzma.LZMAError) as e:
        yield str(path), str(e) if isinstance(e, ValueError) else f"cannot read: {e}"
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        yield str(path), f"not UTF-8 (byte {e.start})"
        return
    try:
        docs: list[tuple[str, Any]] = [(str(path), json.loads(text))]
    except ValueError:
        docs = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                docs.append((f"{path}:line {line_no}", json.loads(line)))
            except ValueError as e:
                yield f"{path}:line {line_no}", f"not JSON: {e}"
    for where, doc in docs:
        if not isinstance(doc, dict):
            yield where, "expected a yt-dlp info object"
            continue
        videos = entries(doc)
        if not videos:
            continue  # a playlist's own .info.json (written beside its videos') holds no entries
        for i, info in enumerate(videos):
            at = where if len(videos) == 1 else f"{where} entries[{i}]"
            try:
                post = post_from_info(info)
                yield at, _validated(post) if post else "video without id, page URL or upload time"
            except ValueError as e:
                yield at, str(e)


def read_jsonl_file(path: Path) -> Iterator[Item]:
    """Our ingest format, one post per line."""
    try:
        with path.open("rb") as f:
            for line_no, item in read_jsonl(f):
                yield f"{path}:line {line_no}", item
    except OSError as e:
        yield str(path), f"cannot read: {e.strerror or e}"


def _matches(path: Path, fmt: str) -> bool:
    name = path.name
    if fmt == "jsonl":
        return name.endswith((".jsonl", ".ndjson"))
    if fmt == "yt-dlp":
        return name.endswith(".info.json")
    return name.endswith((".json", ".json.xz")) and not name.endswith("_comments.json")


def files(root: Path, fmt: str) -> list[Path]:
    """The file itself, or the files of that format under a directory (sorted, recursive)."""
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.is_file() and _matches(p, fmt))
    return [root]


READERS: dict[str, Callable[[Path], Iterator[Item]]] = {
    "jsonl": read_jsonl_file, "instaloader": read_instaloader_file, "yt-dlp": read_ytdlp_file,
}


def read_posts(root: Path, fmt: str) -> Iterator[Item]:
    """(where, Post or error) for every post in a file or directory of the given format."""
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    for path in files(root, fmt):
        yield from READERS[fmt](path)
