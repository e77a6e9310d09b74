"""School mentions: "школа №12", "СОШ 12", "№12 мектеп", "12-мектеп", "НИШ", "school No. 7", "имени Абая"."""

from __future__ import annotations

import re
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

_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        rf"(?<!\w){_RU_KIND}\s*(?:№|n|no\.?|номер)\s*{_NUM}",
        rf"(?<!\w){_RU_KIND}\s+{_NUM}{_NOT_COUNT}",
        rf"(?<![\w№]){_RU_KIND}-{_NUM}",
        rf"(?<!\w)(?:№\s*)?{_NUM}\s*(?:-?\s*(?:ши|шы|shi|shy)\b)?[\s-]*(?:орта\s+|orta\s+)?{_KK_KIND}",
        rf"(?<!\w){_KK_KIND}\s*№\s*{_NUM}",
        rf"(?<!\w)(?:secondary\s+)?{_EN_KIND}\s*(?:no\.?|number|nr\.?|#|№)\s*{_NUM}",
        rf"(?<!\w)(?:secondary\s+)?{_EN_KIND}\s+{_NUM}(?!\s*(?:students|pupils|children|kids|people|years))",
    )
)
_NIS = re.compile(
    r"(?<!\w)(?:ниш|nis)(?!\w)|назарбаев\s+интеллектуальн\w*\s+школ\w*|назарбаев\s+зияткерлик\s+мекте\w*"
    r"|nazarbayev\s+intellectual\s+schools?"
)
_NAMED_AFTER = re.compile(
    r"(?<!\w)(?:школ\w*|сош|гимнази\w*|лице\w*|мекте[пб]\w*|school|gymnasium|lyceum)"
    r"(?:[\s-]+(?:№\s*)?[\w-]+){0,2}?\s+(?:имени|им\.|named\s+after)\s*(?P<name>\w[\w-]*(?:\s+\w[\w-]*)?)"
)
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


def _person(original: str, start: int, end: int, *, before: bool) -> str:
    """The person's name as written: the surname plus a capitalized first name next to it."""
    words = [w.strip(".,;:()«»\"'") for w in original[start:end].split()]
    if before:  # "Ілияс Жансүгіров атындағы": the last word is the surname
        keep = [w for w in words[:-1] if w[:1].isupper()] + words[-1:]
    else:  # "имени Ильяса Жансугурова": the first word, the second when capitalized
        keep = words[:1] + [w for w in words[1:2] if w[:1].isupper()]
    return " ".join(keep)


def _non_overlapping(found: list[SchoolMention], kept: list[SchoolMention]) -> list[SchoolMention]:
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    for school in found:
        if not any(school.start < k.end and k.start < school.end for k in kept):
            kept.append(school)
    return kept


def find_schools(norm: str, original: str) -> list[SchoolMention]:
    """School mentions in normalized text (original text gives names their capitals), non-overlapping."""
    found: list[SchoolMention] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(norm):
            number = next(g for g in m.groups() if g and g.isdigit())
            found.append(SchoolMention(m.start(), m.end(), f"{_kind_name(m.group('kind'))} No. {number}"))
    for m in _NIS.finditer(norm):
        found.append(SchoolMention(m.start(), m.end(), "NIS"))
    kept = _non_overlapping(found, [])
    named: list[SchoolMention] = []
    for m in _NAMED_AFTER.finditer(norm):
        name = _person(original, m.start("name"), m.end("name"), before=False)
        named.append(SchoolMention(m.start(), m.end(), f"School named after {name}"))
    for m in _NAMED_BEFORE.finditer(norm):
        name = _person(original, m.start("name"), m.end("name"), before=True)
        named.append(SchoolMention(m.start(), m.end(), f"School named after {name}"))
    # A number names a school better than a person: "школа №5 имени Абая" is School No. 5.
    kept = _non_overlapping(named, kept)
    kept.sort(key=lambda s: s.start)
    return kept
