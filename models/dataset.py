"""Labeled examples: reading JSONL files (train/dev/evaluate/classify inputs) and moderator decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.core.errors import InputError
from monitor.core.vocab import CATEGORIES, FALSE_ALARM_REASONS, POSITIVE_DECISIONS, Status

LANGS = ("ru", "kk", "en", "mixed", "translit")


@dataclass(frozen=True, slots=True)
class Example:
    """One labeled text."""

    id: str
    text: str
    flag: int
    categories: tuple[str, ...] = ()
    lang: str = "unknown"
    kind: str = ""
    source: str = ""  # where the text was published (real texts): folds keep one page's texts together


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, object or why the line is not one) for each non-blank line; bad UTF-8 becomes U+FFFD."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    # Bad bytes become U+FFFD so the line is still scored (a scraper's broken encoding must not lose a post).
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield number, f"not JSON: {e.msg}"
            continue
        yield number, obj if isinstance(obj, dict) else f"expected a JSON object, got {type(obj).__name__}"


def read_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank JSON line; InputError at the first line that is not one."""
    for number, obj in json_lines(path):
        if isinstance(obj, str):
            raise InputError(f"{path}:{number}: {obj}")
        yield number, obj


def example_from(obj: dict[str, Any], where: str) -> Example:
    """An Example from one labeled JSON object; InputError naming `where` on a bad field."""
    text = obj.get("text")
    if not isinstance(text, str):
        raise InputError(f"{where}: 'text' must be a string")
    flag = obj.get("flag")
    if flag not in (0, 1, True, False):
        raise InputError(f"{where}: 'flag' must be 0 or 1")
    cats = obj.get("categories") or []
    if not isinstance(cats, list) or any(c not in CATEGORIES for c in cats):
        raise InputError(f"{where}: 'categories' must be a list of {', '.join(CATEGORIES)}")
    return Example(id=str(obj.get("id", where)), text=text, flag=int(flag), categories=tuple(cats),
                   lang=str(obj.get("lang") or "unknown"), kind=str(obj.get("kind") or ""),
                   source=str(obj.get("source") or ""))


def read_examples(path: Path) -> list[Example]:
    """Every labeled example of a JSONL file."""
    examples = [example_from(obj, f"{path}:{n}") for n, obj in read_lines(path)]
    if not examples:
        raise InputError(f"{path}: no examples")
    return examples


def read_inputs(path: Path) -> list[tuple[str, str]]:
    """(id, text) pairs of a classify input file; a missing or non-string text is scored as ''."""
    out: list[tuple[str, str]] = []
    for number, obj in read_lines(path):
        text = obj.get("text")
        out.append((str(obj.get("id", number)), text if isinstance(text, str) else ""))
    return out


def from_decisions(sessions: Any) -> list[Example]:
    """Decided queue items as examples: what moderators said the classifier should have said.

    Confirmed and escalated items are real incidents: flag 1 with the item's categories (a moderator's
    correction when there is one). Dismissed items are flag 0 only when the latest dismissal says "not a
    real incident" (vocab.FALSE_ALARM_REASONS): a duplicate or old news was a right flag, already seen,
    and teaching the model it was wrong would lower recall. Merged and undecided items are skipped.
    """
    import sqlalchemy as sa

    from monitor.core import tables

    decision = tables.Decision.__table__  # type: ignore[attr-defined]
    item = tables.QueueItem.__table__  # type: ignore[attr-defined]
    post = tables.Post.__table__  # type: ignore[attr-defined]
    decided = (*POSITIVE_DECISIONS, Status.DISMISSED)
    examples: dict[int, Example] = {}
    with sessions() as session:
        rows = session.execute(
            sa.select(item.c.id, item.c.status, item.c.category, item.c.categories, post.c.id, post.c.text,
                      post.c.language)
            .join(post, post.c.id == item.c.post_id)
            .where(item.c.status.in_([s.value for s in decided]),
                   item.c.id.in_(sa.select(decision.c.queue_item_id)))
            .order_by(item.c.id)
        ).all()
        # The reason of each item's latest decision (a reopened item may have been dismissed twice).
        reasons: dict[int, str | None] = {}
        for item_id, reason in session.execute(
                sa.select(decision.c.queue_item_id, decision.c.reason)
                .where(decision.c.queue_item_id.in_([r[0] for r in rows]))
                .order_by(decision.c.decided_at, decision.c.id)):
            reasons[item_id] = reason
    for item_id, status, category, categories, post_id, text, language in rows:
        if status == Status.DISMISSED:
            if reasons.get(item_id) not in FALSE_ALARM_REASONS:
                continue
            flag, cats = 0, ()
        else:
            flag = 1
            cats = tuple(c for c in (categories or [category]) if c in CATEGORIES)
        lang = language if language in LANGS else "unknown"
        # The latest decision about a post wins (the item ids grow with time).
        examples[post_id] = Example(f"decision-{item_id}", text or "", flag, cats, lang, "decision")
    return list(examples.values())


def labels(examples: Sequence[Example]) -> tuple[list[int], dict[str, list[int]]]:
    """Flag labels and per-category labels of `examples`."""
    flags = [e.flag for e in examples]
    cats: dict[str, list[int]] = {c: [int(c in e.categories) for e in examples] for c in CATEGORIES}
    return flags, cats
