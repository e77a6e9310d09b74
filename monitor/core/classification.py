"""The seam between the pipeline and any classifier: inputs, verdicts and the one-method protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from monitor.core.vocab import PRIMARY_ORDER, Category


@dataclass(frozen=True, slots=True)
class ClassifyItem:
    """What a classifier sees of a post: the text plus signals that raise severity."""

    text: str
    has_video: bool = False
    school: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """A span of the text that drove the flag."""

    start: int
    end: int
    text: str


def primary_category(categories: Mapping[str, float], thresholds: Mapping[str, float] | None = None,
                     default: float = 0.5) -> str | None:
    """The most specific category whose probability reaches its threshold; else the one closest to its threshold.

    The queue's one "category" decides the route (police, district education office, psychologist,
    ombudsman), so a teacher hitting a pupil is teacher_misconduct, not the physical_violence that also
    applies (models/MODEL_CARD.md, labelling rules; the order is vocab.PRIMARY_ORDER).
    """
    limit = {c: (thresholds or {}).get(c, default) for c in categories}
    present = [c for c in PRIMARY_ORDER if c in categories and categories[c] >= limit[c]]
    if present:
        return present[0].value
    if not categories:
        return None
    # Nothing reaches its threshold (a flagged post the category heads do not recognise): the nearest one.
    return max(categories, key=lambda c: (categories[c] / max(limit[c], 1e-6),
                                          -PRIMARY_ORDER.index(Category(c)) if c in PRIMARY_ORDER else 0))


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans (overlapping or touching ones joined)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classifier's answer for one item."""

    flag: bool
    score: float
    categories: Mapping[str, float] = field(default_factory=dict)
    severity: str = "none"
    evidence: tuple[Evidence, ...] = ()


# Texts -> unit vectors (one row each): the encoder the classifier already runs, reused for incident matching.
Embed = Callable[[Sequence[str]], np.ndarray]


class Classifier(Protocol):
    """Anything that scores items in batches; `version` is recorded with every classification."""

    @property
    def version(self) -> str: ...

    def classify(self, items: Sequence[ClassifyItem]) -> list[Verdict]: ...
