"""Is this the same event? The pure decider: the details a report states, and the evidence that joins two reports.

Two reports join only on evidence that they describe one event: a shared link or media file, near-duplicate
text, or a strong semantic match (the classifier's encoder, across languages) that agrees on specific
details (school number, weapon, grades, ages, dates) and on the place. The place alone, or the kind of event
alone, never joins; details that disagree (another school number, another weapon, another grade, another
place, a fight against a phoned threat) block every join except a shared link or media file.

Everything here is pure: `facts_of` reads a text, `decide` compares two `Report`s. The grouping index
(`match.py`) and the evaluation (`bench/incident_pairs.py`, `monitor evaluate-incidents`) call the same code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

# -- details a report states -----------------------------------------------------------------------

_ORDINALS_RU = {
    "перво": 1, "второ": 2, "третье": 3, "четвероклассн": 4, "пято": 5, "шесто": 6, "седьмо": 7, "семи": 7,
    "восьми": 8, "девяти": 9, "десяти": 10, "одиннадцати": 11,
}
_ORDINALS_EN = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11,
}
_ORDINALS_KK = {
    "бірінші": 1, "екінші": 2, "үшінші": 3, "төртінші": 4, "бесінші": 5, "алтыншы": 6, "жетінші": 7,
    "сегізінші": 8, "тоғызыншы": 9, "оныншы": 10, "он бірінші": 11,
}
_SCHOOL_WORD = r"(?:школ\w*|сош|оош|гимнази\w*|лице\w*|мектеп\w*|мектеб\w*|school\w*|gymnasium|lyceum|mektep\w*)"
_SCHOOL_PATTERNS = (
    re.compile(rf"{_SCHOOL_WORD}\s*(?:(?:№|#|no\.?|n|номер|number)\s*)(\d{{1,3}})\b"),
    re.compile(rf"(?:№|#|no\.?)\s*(\d{{1,3}})\s*(?:-?\s*(?:орта|жалпы|средн\w*|secondary|общеобразовательн\w*)\s+)?"
               rf"{_SCHOOL_WORD}"),
    re.compile(r"\b(\d{1,3})\s*(?:-?\s*(?:й|я|ой|ая|ом|ой|ші|шы|ынші|інші))?\s*(?:(?:орта|средн\w*|secondary)\s+)?"
               r"(?:мектеп\w*|мектеб\w*|школ\w*)"),
    re.compile(r"\bschool\s+(\d{1,3})\b(?!\s*(?:-?\s*(?:класс|сынып|grade|th|st|nd|rd)))"),
)
_GRADE_PATTERNS = (
    re.compile(r"\b(\d{1,2})\s*-?\s*(?:(?:го|ого|й|х|ых|ом)\s*)?(?:класс|кл\.|сынып|synyp)"),
    re.compile(r"\b(\d{1,2})\s*-\s*(\d{1,2})\s*-?\s*(?:х|ых)?\s*(?:класс|сынып)"),
    re.compile(r"\b(\d{1,2})\s*-?\s*классни"),
    re.compile(r"(?:класс\w*|grade)\s+(\d{1,2})\b"),
    re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?[\s-]+grade"),
)
_AGE_PATTERNS = (
    re.compile(r"\b(\d{1,2})\s*-?\s*(?:летн|лет\b|года\b|жаст|жасар|year-old|years old|-year)"),
    re.compile(r"\baged\s+(\d{1,2})\b"),
)
_MONTHS = {
    # ru (genitive and nominative stems), kk, en
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8, "сентябр": 9,
    "октябр": 10, "ноябр": 11, "декабр": 12,
    "қаңтар": 1, "ақпан": 2, "наурыз": 3, "сәуір": 4, "мамыр": 5, "маусым": 6, "шілде": 7, "тамыз": 8,
    "қыркүйек": 9, "қазан": 10, "қараша": 11, "желтоқсан": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS if m != "ма"), key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(rf"\b(\d{{1,2}})\s*(?:-?\s*(?:ші|шы|інші|ыншы))?\s+({_MONTH_ALT}|ма[яй])\w*"),
    re.compile(rf"\b({_MONTH_ALT})\w*\s+(\d{{1,2}})\b"),
    re.compile(r"\b(\d{1,2})\.(\d{2})\.(?:20)?\d{2}\b"),
)
# Kinds of event, by family: a report may name several (a fight that ended with a knife).
_KINDS: dict[str, tuple[str, ...]] = {
    "physical": ("драк", "подрал", "избил", "избиени", "избива", "напал", "нападени", "ранил", "ранени",
                 "потасов", "удар", "поножовщин", "төбеле", "ұрып", "соққы", "шабуыл", "жарақат",
                 "fight", "beat", "attack", "wound", "brawl", "hit ", "slapp", "stab", "стрельб", "выстрел",
                 "shoot", "shot"),
    "threat": ("угрожа", "угроз", "заминир", "минировани", "ложное сообщение", "қорқыт", "жарылғыш",
               "threat", "bomb hoax", "bomb threat"),
    "extortion": ("вымога", "бопса", "extort", "требовали у них деньги", "требовали деньги"),
    "sexual": ("изнасил", "домогат", "развратн", "зорла", "sexual", "rape", "molest"),
    "bullying": ("травл", "буллинг", "булинг", "bully", "кибербул", "қорлау"),
    "suicide": ("суицид", "покончил", "самоубийств", "өзіне қол сал", "suicide"),
}
# Weapons; a report naming none says nothing against one that does.
_WEAPONS: dict[str, tuple[str, ...]] = {
    "axe": ("топор", "балтамен", "балта ", "балтаны", "балта,", "балта.", " axe", " ax ", "ax-", "axe-"),
    "knife": ("нож", "поножовщин", "пышақ", "knife", "knives", "stab"),
    "gun": ("пистолет", "стрельб", "выстрел", "ружь", "тапанша", "атыс", "gun", "pistol", "rifle", "shoot",
            "shot"),
    "hammer": ("молот", "балға", "hammer"),
}
_TEACHER = ("учител", "учительниц", "педагог", "преподават", "мұғалім", "ұстаз", "teacher")


def _grades(low: str) -> set[int]:
    out: set[int] = set()
    for pattern in _GRADE_PATTERNS:
        for m in pattern.finditer(low):
            out.update(int(g) for g in m.groups() if g)
    for stem, grade in _ORDINALS_RU.items():
        if re.search(rf"\b{stem}классни", low):
            out.add(grade)
    for word, grade in _ORDINALS_EN.items():
        if re.search(rf"\b{word}[\s-]+grade", low):
            out.add(grade)
    for word, grade in _ORDINALS_KK.items():
        if re.search(rf"\b{word}\s+сынып", low):
            out.add(grade)
    return {g for g in out if 1 <= g <= 11}


def _dates(low: str) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for m in _DATE_PATTERNS[0].finditer(low):
        month = _month(m.group(2))
        if month:
            out.add((month, int(m.group(1))))
    for m in _DATE_PATTERNS[1].finditer(low):
        month = _month(m.group(1))
        if month:
            out.add((month, int(m.group(2))))
    for m in _DATE_PATTERNS[2].finditer(low):
        out.add((int(m.group(2)), int(m.group(1))))
    return {(mo, d) for mo, d in out if 1 <= mo <= 12 and 1 <= d <= 31}


def _month(word: str) -> int | None:
    if word.startswith("ма") and word[:3] in ("мая", "май"):
        return 5
    for stem, number in _MONTHS.items():
        if stem != "ма" and word.startswith(stem):
            return number
    return None


def _found(low: str, table: dict[str, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(name for name, words in table.items() if any(w in low for w in words))


@dataclass(frozen=True, slots=True)
class Facts:
    """The details of an event a report states (empty when it does not say)."""

    schools: frozenset[int] = frozenset()
    grades: frozenset[int] = frozenset()
    ages: frozenset[int] = frozenset()
    dates: frozenset[tuple[int, int]] = frozenset()  # (month, day)
    weapons: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    teacher: bool = False


def facts_of(text: str, *, max_chars: int = 4000) -> Facts:
    """The school numbers, grades, ages, dates, weapons, kinds of event and a teacher a text names."""
    low = " " + " ".join(text[:max_chars].lower().replace("ё", "е").split()) + " "
    schools: set[int] = set()
    for pattern in _SCHOOL_PATTERNS:
        schools.update(int(m.group(1)) for m in pattern.finditer(low))
    ages = {int(m.group(1)) for p in _AGE_PATTERNS for m in p.finditer(low)}
    return Facts(
        schools=frozenset(s for s in schools if 0 < s < 400),
        grades=frozenset(_grades(low)),
        ages=frozenset(a for a in ages if 5 <= a <= 19),
        dates=frozenset(_dates(low)),
        weapons=_found(low, _WEAPONS),
        kinds=_found(low, _KINDS),
        teacher=any(w in low for w in _TEACHER),
    )


# -- two reports -------------------------------------------------------------------------------------

Place = tuple[str | None, str | None, str | None]  # region, district, town


@dataclass(frozen=True, slots=True)
class Report:
    """What the decider compares of one report; built by `match.Signature` or by the evaluation."""

    id: int
    published_at: datetime
    url: str = ""
    refs: frozenset[str] = frozenset()
    media: frozenset[str] = frozenset()
    shingles: frozenset[tuple[str, ...]] = frozenset()
    places: tuple[Place, ...] = ()  # best first
    facts: Facts = field(default_factory=Facts)
    embedding: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """The decider's thresholds (from `[places]` settings)."""

    window_h: float = 72.0
    text_similarity: float = 0.6
    semantic_similarity: float = 0.86
    strong_semantic_similarity: float = 0.93


@dataclass(frozen=True, slots=True)
class Join:
    """Why two reports are one event: the kind of evidence, its score and the details both state."""

    reason: str  # "link", "media", "text", "semantic", "details"
    score: float
    agreed: tuple[str, ...] = ()

    def explain(self, other_id: int | None = None) -> str:
        """One line for moderators: 'same link as post 12', 'similar meaning (0.91); agrees on school 4, axe'."""
        to = f" post {other_id}" if other_id else " another post"
        head = {
            "link": f"links to or is linked from{to}",
            "media": f"shares a photo or video with{to}",
            "text": f"near-duplicate text of{to} ({self.score:.2f})",
            "semantic": f"same meaning as{to} ({self.score:.2f})",
            "details": f"same details as{to}",
        }.get(self.reason, f"{self.reason} ({self.score:.2f})")
        return head + (f"; agrees on {', '.join(self.agreed)}" if self.agreed else "")


def containment(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Share of the smaller set inside the larger: a repost with added comments stays near 1."""
    small = min(len(a), len(b))
    if small < 3:
        return 1.0 if a and a == b else 0.0
    return len(a & b) / small


def _overlap(a: Iterable[object], b: Iterable[object]) -> tuple[bool, bool]:
    """(both state it, they share a value)."""
    sa, sb = set(a), set(b)
    return bool(sa and sb), bool(sa & sb)


def _place_verdict(a: Sequence[Place], b: Sequence[Place]) -> tuple[str | None, str | None]:
    """(conflict, agreement): a differing region/town/district blocks; a shared town or district agrees."""
    if not a or not b:
        return None, None
    regions_a, regions_b = {p[0] for p in a if p[0]}, {p[0] for p in b if p[0]}
    if regions_a and regions_b and not regions_a & regions_b:
        return f"place {a[0][0]} vs {b[0][0]}", None
    best_a, best_b = a[0], b[0]
    for level, name in ((2, "town"), (1, "district")):
        xa, xb = best_a[level], best_b[level]
        if xa and xb and xa != xb and best_a[0] == best_b[0]:
            others_a = {p[level] for p in a if p[0] == best_a[0]}
            others_b = {p[level] for p in b if p[0] == best_b[0]}
            if xa not in others_b and xb not in others_a:
                return f"{name} {xa} vs {xb}", None
    for level in (2, 1):
        shared = {str(p[level]) for p in a if p[level]} & {str(p[level]) for p in b if p[level]}
        if shared:
            return None, f"place {min(shared)}"
    shared_regions = {str(r) for r in regions_a & regions_b}
    if shared_regions:
        return None, f"region {min(shared_regions)}"
    return None, None


def _order(value: str) -> tuple[int, str]:
    """Numbers in numeric order, words after them."""
    return (int(value), "") if value.isdigit() else (10**6, value)


def compare(a: Report, b: Report) -> tuple[list[str], list[str], str | None]:
    """(conflicts, specific agreements, place agreement) between two reports' details."""
    fa, fb = a.facts, b.facts
    conflicts: list[str] = []
    agreed: list[str] = []
    named: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
        ("school", frozenset(map(str, fa.schools)), frozenset(map(str, fb.schools))),
        ("grade", frozenset(map(str, fa.grades)), frozenset(map(str, fb.grades))),
        ("weapon", fa.weapons, fb.weapons),
    )
    for name, xa, xb in named:
        both, shared = _overlap(xa, xb)
        if both and not shared:
            conflicts.append(f"{name} {'/'.join(sorted(xa, key=_order))} vs {'/'.join(sorted(xb, key=_order))}")
        elif shared:
            agreed.append(f"{name} {'/'.join(sorted(xa & xb, key=_order))}")
    both, shared = _overlap(fa.dates, fb.dates)
    if both and not shared:
        conflicts.append("dates differ")
    elif shared:
        agreed.append("date " + ", ".join(f"{d:02d}.{m:02d}" for m, d in sorted(set(fa.dates) & set(fb.dates))))
    both, shared = _overlap(fa.ages, fb.ages)
    if shared:
        agreed.append(f"age {'/'.join(map(str, sorted(fa.ages & fb.ages)))}")
    both, shared = _overlap(fa.kinds, fb.kinds)
    if both and not shared:
        conflicts.append(f"kind {'/'.join(sorted(fa.kinds))} vs {'/'.join(sorted(fb.kinds))}")
    if fa.teacher and fb.teacher:
        agreed.append("a teacher")
    place_conflict, place_agreed = _place_verdict(a.places, b.places)
    if place_conflict:
        conflicts.append(place_conflict)
    return conflicts, agreed, place_agreed


def clash(a: Report, b: Report) -> bool:
    """True when a detail both reports state disagrees (the fast check `decide` runs first)."""
    fa, fb = a.facts, b.facts
    for xa, xb in ((fa.schools, fb.schools), (fa.grades, fb.grades), (fa.weapons, fb.weapons),
                   (fa.dates, fb.dates), (fa.kinds, fb.kinds)):
        if xa and xb and xa.isdisjoint(xb):
            return True
    return bool(a.places and b.places) and _place_verdict(a.places, b.places)[0] is not None


def shares_detail(a: Report, b: Report) -> bool:
    """True when the reports state a detail in common (only then can meaning join them)."""
    fa, fb = a.facts, b.facts
    return (fa.teacher and fb.teacher) or any(
        not xa.isdisjoint(xb) for xa, xb in ((fa.schools, fb.schools), (fa.grades, fb.grades),
                                             (fa.weapons, fb.weapons), (fa.dates, fb.dates), (fa.ages, fb.ages)))


def similarity(a: Report, b: Report) -> float | None:
    """Cosine of the two embeddings (None when either is missing or they differ in size)."""
    if a.embedding is None or b.embedding is None or a.embedding.shape != b.embedding.shape:
        return None
    return float(np.dot(a.embedding, b.embedding))


def decide(a: Report, b: Report, rules: Rules = Rules()) -> Join | None:
    """The evidence that `a` and `b` report one event, or None. Pure: same inputs, same answer."""
    if (a.url and a.url in b.refs) or (b.url and b.url in a.refs):
        return Join("link", 1.0)
    if a.media & b.media:
        return Join("media", 1.0)
    hours = abs((a.published_at - b.published_at).total_seconds()) / 3600
    if hours > rules.window_h or clash(a, b):
        return None
    text = containment(a.shingles, b.shingles)
    cosine = similarity(a, b)
    meaning = cosine is not None and cosine >= rules.semantic_similarity
    many = bool(a.places and b.places) and not a.facts.schools.isdisjoint(b.facts.schools)
    if text < rules.text_similarity and not meaning and not many:
        return None  # the common case, decided without building any description
    conflicts, agreed, place = compare(a, b)
    if conflicts:
        return None
    if text >= rules.text_similarity:
        return Join("text", round(text, 3), tuple(agreed + ([place] if place else [])))
    specific = [x for x in agreed if not x.startswith("a teacher")]
    town_level = place is not None and place.startswith("place ")
    # Meaning alone is not enough (two fights at one school read alike): it must agree on details that
    # name this event, and on where it happened. When a report names no place, a grade and a weapon
    # are too common (a 9th grader with a knife in two regions): the school number must agree too.
    has_school = any(x.startswith("school") for x in specific)
    if cosine is not None and meaning:
        if specific and (place is not None or (has_school and len(specific) >= 2)):
            return Join("semantic", round(cosine, 3), tuple(agreed + ([place] if place else [])))
        if cosine >= rules.strong_semantic_similarity and town_level and agreed:
            return Join("semantic", round(cosine, 3), (*agreed, place or ""))
    # Without a strong match of meaning, only many details together: the town, the school and one more.
    if town_level and has_school and len(specific) >= 3:
        return Join("details", round(len(specific) / 5, 3), (*agreed, place or ""))
    return None
