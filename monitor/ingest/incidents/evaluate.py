"""Pairwise evaluation of the grouping decider: labelled report pairs in, precision and recall out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.core.errors import InputError
from monitor.core.places.gazetteer import Places
from monitor.ingest.incidents.evidence import Report, Rules, decide, facts_of
from monitor.ingest.incidents.match import shingles, text_tokens

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Labelled:
    """One report of the evaluation set: its text, when it was published and which event it reports."""

    id: str
    event: str
    text: str
    published_at: datetime
    language: str = ""
    url: str = ""


def load_reports(path: Path) -> list[Labelled]:
    """Reports from a JSONL file (id, event, text, published[, lang, url]); InputError naming a bad line."""
    out: list[Labelled] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Labelled(str(d["id"]), str(d["event"]), str(d["text"]),
                                datetime.fromisoformat(d["published"]), str(d.get("lang", "")), str(d.get("url", ""))))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{n}: {e}") from None
    return out


def cached_embeddings(texts: Sequence[str], embed: Embed, cache: Path, version: str) -> np.ndarray:
    """Embeddings of `texts`, computed once per (encoder version, text) and kept in an .npz file."""
    keys = [hashlib.sha256(f"{version}\0{t}".encode()).hexdigest()[:24] for t in texts]
    stored: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache) as f:
            stored = {k: f[k] for k in f.files}
    todo = [i for i, k in enumerate(keys) if k not in stored]
    if todo:
        vectors = np.asarray(embed([texts[i] for i in todo]), dtype=np.float32)
        for i, v in zip(todo, vectors, strict=True):
            stored[keys[i]] = v
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, **stored)  # type: ignore[arg-type]
        tmp.replace(cache)
    return np.stack([stored[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)


def to_report(n: int, item: Labelled, places: Places | None, embedding: np.ndarray | None) -> Report:
    """The decider's view of one labelled report (places from the gazetteer, facts from the text)."""
    found = places.analyze(item.text)[0] if places is not None else []
    return Report(
        id=n, published_at=item.published_at, url=item.url,
        shingles=shingles(text_tokens(item.text)),
        places=tuple((m.region, m.district, m.town) for m in found if m.region),
        facts=facts_of(item.text), embedding=embedding,
    )


@dataclass
class Scores:
    """Pairwise counts: same-event pairs joined, different-event pairs merged, and the mistakes."""

    same: int = 0
    joined: int = 0
    different: int = 0
    merged: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    missed: list[tuple[str, str]] = field(default_factory=list)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of same-event pairs joined."""
        return self.joined / self.same if self.same else 1.0

    @property
    def merge_rate(self) -> float:
        """Share of different-event pairs joined."""
        return self.merged / self.different if self.different else 0.0

    @property
    def precision(self) -> float:
        """Share of joined pairs that are the same event."""
        total = self.joined + self.merged
        return self.joined / total if total else 1.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers."""
        return {"same_pairs": self.same, "joined": self.joined, "recall": round(self.recall, 4),
                "different_pairs": self.different, "merged": self.merged, "merge_rate": round(self.merge_rate, 4),
                "precision": round(self.precision, 4), "reasons": dict(sorted(self.reasons.items()))}


def score_pairs(items: Sequence[Labelled], reports: Sequence[Report], rules: Rules, *,
                same_time: bool = False, only: Callable[[Labelled, Labelled], bool] | None = None) -> Scores:
    """Every pair of reports through the decider; `same_time` publishes both at once (a harder test)."""
    scores = Scores()
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            a, b = items[i], items[j]
            if only is not None and not only(a, b):
                continue
            ra, rb = reports[i], reports[j]
            if same_time:
                rb = replace(rb, published_at=ra.published_at)
            join = decide(ra, rb, rules)
            if a.event == b.event:
                scores.same += 1
                if join is not None:
                    scores.joined += 1
                    scores.reasons[join.reason] = scores.reasons.get(join.reason, 0) + 1
                else:
                    scores.missed.append((a.id, b.id))
            else:
                scores.different += 1
                if join is not None:
                    scores.merged += 1
                    scores.wrong.append((a.id, b.id, join.explain()))
    return scores
