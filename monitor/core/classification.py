"""The seam between the pipeline and any classifier: inputs, verdicts and the one-method protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


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


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classifier's answer for one item."""

    flag: bool
    score: float
    categories: Mapping[str, float] = field(default_factory=dict)
    severity: str = "none"
    evidence: tuple[Evidence, ...] = ()


class Classifier(Protocol):
    """Anything that scores items in batches; `version` is recorded with every classification."""

    @property
    def version(self) -> str: ...

    def classify(self, items: Sequence[ClassifyItem]) -> list[Verdict]: ...
