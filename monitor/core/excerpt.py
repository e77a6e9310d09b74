"""Post text cut to what a reader needs: evidence spans as marked segments, and a short excerpt around them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.core.classification import merge_spans


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of post text; `mark` when a classifier evidence span covers it."""

    text: str
    mark: bool


def highlight(text: str, evidence: Sequence[Mapping[str, Any]] | None) -> list[Segment]:
    """Split text into plain and marked segments from evidence spans; bad spans are ignored."""
    spans: list[tuple[int, int]] = []
    for span in evidence or ():
        start, end = span.get("start"), span.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
            continue
        start, end = max(0, start), min(len(text), end)
        quoted = span.get("text")
        # A span whose offsets disagree with its quoted text is re-found by the text itself.
        if isinstance(quoted, str) and quoted and text[start:end] != quoted:
            found = text.find(quoted)
            if found < 0:
                continue
            start, end = found, found + len(quoted)
        if end > start:
            spans.append((start, end))
    out: list[Segment] = []
    pos = 0
    for start, end in merge_spans(spans):
        if start > pos:
            out.append(Segment(text[pos:start], False))
        out.append(Segment(text[start:end], True))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:], False))
    return out


def excerpt(text: str, evidence: Sequence[Mapping[str, Any]] | None, width: int = 180) -> list[Segment]:
    """About `width` characters of the text around its first evidence span (the start when none), marked.

    Cut at word boundaries with "…" where text was left out, so a digest line says what happened."""
    # Offsets belong to the original text: mark first, then fold runs of whitespace inside each piece.
    segments = [Segment(re.sub(r"\s+", " ", seg.text), seg.mark) for seg in highlight(text, evidence)]
    text = "".join(seg.text for seg in segments)
    if len(text) <= width:
        return segments
    first = 0
    pos = 0
    for seg in segments:
        if seg.mark:
            first = pos
            break
        pos += len(seg.text)
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > first else end
    out: list[Segment] = [Segment("…", False)] if start else []
    pos = 0
    for seg in segments:
        a, b = max(pos, start), min(pos + len(seg.text), end)
        if a < b:
            out.append(Segment(text[a:b], seg.mark))
        pos += len(seg.text)
    if end < len(text):
        out.append(Segment("…", False))
    return out
