"""Where a post is about: the seam the pipeline uses (the gazetteer implementation lives here too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """One place (or school) found in a text, with canonical English names."""

    region: str | None
    district: str | None
    town: str | None
    school: str | None
    span: tuple[int, int]
    confidence: float


class Places(Protocol):
    """Finds places in text and tells whether the text has a school/education context."""

    def match(self, text: str) -> list[PlaceMatch]: ...

    def has_education_context(self, text: str) -> bool: ...
