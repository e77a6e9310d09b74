"""School mentions: "школа №12", "СОШ 12", "№12 мектеп", "12-мектеп", "НИШ", "school No. 7", "имени Абая"."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SchoolMention:
    """A school found in normalized text: its span and its canonical name ("School No. 12")."""

    start: int
    end: int
    name: str


_NUM = r"(\d{1,3})(?!\d)"
# A bare number after "школа" is often a count ("в школе 5 учеников"): refuse those.
_NOT_COUNT = r"(?!\s*(?:-?[а-я]{1,3}\b|класс|учени|человек|дет|девоч|мальч|раз|лет|год|минут|час|подрост|школ|%))"

_RU_KIND = (
    r"(?P<kind>школ[а-я]*-гимнази[а-я]*|школ[а-я]*-лице[а-я]*|школ[а-я]*-интернат[а-я]*"
    r"|кгу\s+сош|сош|оош|сш|школ[а-я]*|гимнази[а-я]*|лице[йяюе][а-я]*)"
)
_KK_KIND = (
    r"(?P<kind>мекте[пб][а-я]*-(?:лицей|гимназия|интернат)[а-я]*|мекте[пб][а-я]*|mektep\w*"
    r"|гимназия[а-я]*|лицей[а-я]*)"
)
_EN_KIND = r"(?P<kind>school|gymnasium|lyceum)"

# Patterns that start at a trigger word ("школа", "мектеп", "school"): tried only there.
_AT_TRIGGER: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        rf"{_RU_KIND}\s*(?:№|n|no\.?|номер)\s*{_NUM}",
        rf"{_RU_KIND}\s+{_NUM}{_NOT_COUNT}",
        rf"{_RU_KIND}-{_NUM}",
        rf"{_KK_KIND}\s*№\s*{_NUM}",
        rf"{_EN_KIND}\s*(?:no\.?|number|nr\.?|#|№)\s*{_NUM}",
        rf"{_EN_KIND}\s+{_NUM}(?!\s*(?:students|pupils|children|kids|people|years))",
    )
)
# "№12 мектеп", "12-мектеп", "7-ші мектепте": the number comes before the trigger.
_NUMBER_FIRST = re.compile(
    rf"(?<![\w№])(?:№\s*)?{_NUM}\s*(?:-?\s*(?:ши|шы|shi|shy)\b)?[\s-]*(?:орта\s+|orta\s+)?{_KK_KIND}"
)
_NIS = re.compile(
    r"(?:ниш|nis)(?!\w)|назарбаев\s+интеллектуальн\w*\s+школ\w*|назарбаев\s+зияткерлик\s+мекте\w*"
    r"|nazarbayev\s+intellectual\s+schools?"
)
_NAMED_AFTER = re.compile(
    r"(?:школ\w*|сош|гимнази\w*|лице\w*|мекте[пб]\w*|school|gymnasium|lyceum)"
    r"(?:[\s-]+(?:№\s*)?[\w-]+){0,2}?\s+(?:имени|им\.|named\s+after)\s*(?P<name>\w[\w-]*(?:\s+\w[\w-]*)?)"
)
_DIGIT = re.compile(r"\d")
_NAMED_BEFORE = re.compile(
    r"(?P<name>\w[\w-]*(?:\s+\w[\w-]*)?)\s+атындагы\s+(?:№?\s*\d{1,3}\s*-?\s*)?(?:орта\s+)?"
    r"(?:мекте[пб]\w*|гимназ\w*|лице\w*)"
)


def _kind_name(kind: str) -> str:
    if "гимнази" in kind and ("школ" in kind or "мекте" in kind):
        return "School-Gymnasium"
    if "лице" in kind and ("школ" in kind or "мекте" in kind):
        return "School-Lyceum"
    if "интернат" in kind:
        return "Boarding School"
    if kind.startswith(("гимнази", "gymnasium")):
        return "Gymnasium"
    if kind.startswith(("лице", "lyceum")):
        return "Lyceum"
    return "School"


_PLACE_FORM = re.compile(r"(?:[дт][аеәі]|[ғгқк][ыі]|нда|нде)$", re.IGNORECASE)


def _person(original: str, start: int, end: int, *, before: bool) -> str:
    """The person's name as written: the surname plus a capitalized first name next to it."""
    words = [w.strip(".,;:()«»\"'") for w in original[start:end].split()]
    if before:  # "Ілияс Жансүгіров атындағы": the last word is the surname
        # ... but not a place before it: "Қаскелеңдегі Абай атындағы мектеп".
        keep = [w for w in words[:-1] if w[:1].isupper() and not _PLACE_FORM.search(w)] + words[-1:]
    else:  # "имени Ильяса Жансугурова": the first word, the second when capitalized
        keep = words[:1] + [w for w in words[1:2] if w[:1].isupper()]
    return " ".join(keep)


def _sweep(found: list[SchoolMention]) -> list[SchoolMention]:
    """Non-overlapping mentions, the earlier (then the longer) first."""
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    out: list[SchoolMention] = []
    for school in found:
        if not out or school.start >= out[-1].end:
            out.append(school)
    return out


def find_schools(norm: str, original: str, triggers: Iterable[int]) -> list[SchoolMention]:
    """School mentions around the trigger positions of normalized text, non-overlapping.

    The patterns run only at (or just before) the triggers the gazetteer's automaton found, which keeps
    a post without a school word free of any regex work. The original text gives names their capitals.
    """
    found: list[SchoolMention] = []
    named: list[SchoolMention] = []
    size = len(norm)
    for t in sorted(set(triggers)):
        for pattern in _AT_TRIGGER:
            m = pattern.match(norm, t)
            if m:
                found.append(_numbered(m))
        m = _NUMBER_FIRST.search(norm, max(0, t - 16), min(size, t + 40)) if _DIGIT.search(norm, max(0, t - 16), t) else None
        if m and m.start("kind") == t:
            found.append(_numbered(m))
        m = _NIS.match(norm, t)
        if m:
            found.append(SchoolMention(m.start(), m.end(), "NIS"))
        m = _NAMED_AFTER.match(norm, t)
        if m:
            name = _person(original, m.start("name"), m.end("name"), before=False)
            named.append(SchoolMention(m.start(), m.end(), f"School named after {name}"))
        m = _NAMED_BEFORE.search(norm, max(0, t - 70), min(size, t + 40)) if "атындагы" in norm[max(0, t - 30):t] else None
        if m and m.end() > t:
            name = _person(original, m.start("name"), m.end("name"), before=True)
            named.append(SchoolMention(m.start(), m.end(), f"School named after {name}"))
    numbered = _sweep(found)
    starts = [s.start for s in numbered]
    kept = list(numbered)
    for school in _sweep(named):
        # A number names a school better than a person: "школа №5 имени Абая" is School No. 5.
        i = bisect_left(starts, school.end)
        if not (i and numbered[i - 1].end > school.start):
            kept.append(school)
    kept.sort(key=lambda s: s.start)
    return kept


def _numbered(m: re.Match[str]) -> SchoolMention:
    number = next(g for g in m.groups() if g and g.isdigit())
    return SchoolMention(m.start(), m.end(), f"{_kind_name(m.group('kind'))} No. {number}")
