"""The seam between the pipeline and any classifier: inputs, verdicts and the one-method protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


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
