"""The seam between the pipeline and any classifier: inputs, verdicts and the one-method protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

CATEGORIES: tuple[str, ...] = (
    "physical_violence",
    "bullying",
    "cyberbullying",
    "extortion",
    "sexual_misconduct",
    "teacher_misconduct",
    "threat_weapon",
)
SEVERITIES: tuple[str, ...] = ("none", "low", "medium", "high", "critical")
# The queue's one "category" is the most specific one present (models/MODEL_CARD.md, labelling rules): it decides
# the route (police, district education office, psychologist, ombudsman), so a teacher hitting a pupil is
# teacher_misconduct, not the physical_violence that also applies.
PRIMARY_ORDER: tuple[str, ...] = (
    "sexual_misconduct",
    "teacher_misconduct",
    "threat_weapon",
    "extortion",
    "cyberbullying",
    "bullying",
    "physical_violence",
)


def primary_category(categories: Mapping[str, float], thresholds: Mapping[str, float] | None = None,
                     default: float = 0.5) -> str | None:
    """The most specific category whose probability reaches its threshold; else the one closest to its threshold."""
    limit = {c: (thresholds or {}).get(c, default) for c in categories}
    present = [c for c in PRIMARY_ORDER if c in categories and categories[c] >= limit[c]]
    if present:
        return present[0]
    if not categories:
        return None
    # Nothing reaches its threshold (a flagged post the category heads do not recognise): the nearest one.
    return max(categories, key=lambda c: (categories[c] / max(limit[c], 1e-6), -PRIMARY_ORDER.index(c)
                                          if c in PRIMARY_ORDER else 0))


def severity_rank(severity: str) -> int:
    """0 for none … 4 for critical (the queue sorts on it)."""
    return SEVERITIES.index(severity)


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
