"""Where a post is about: the seam the pipeline uses, and the gazetteer that implements it."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ahocorasick

from monitor.core.config import PlacesSettings
from monitor.core.errors import ConfigError
from monitor.core.places.names import (
    DATA_DIR,
    SUFFIX_CLASSES,
    Context,
    NameRule,
    Target,
    load_context,
    load_known_schools,
    load_place_file,
    normalize,
)
from monitor.core.places.schools import SchoolMention, find_schools

PLACE_FILES = ("almaty_region.toml", "zhetysu_region.toml", "almaty_city.toml", "kazakhstan.toml")
# The regions with schools, look-alike blocks and villages (the ministry's own); the default watch list.
DETAILED_REGIONS = ("Almaty Region", "Zhetysu Region", "Almaty City")
REGIONS = DETAILED_REGIONS
# Every region and city of republican significance the gazetteer knows (kazakhstan.toml has the rest).
ALL_REGIONS = (
    *DETAILED_REGIONS, "Astana City", "Shymkent City", "Abai Region", "Akmola Region", "Aktobe Region",
    "Atyrau Region", "East Kazakhstan Region", "Zhambyl Region", "West Kazakhstan Region", "Karaganda Region",
    "Kostanay Region", "Kyzylorda Region", "Mangystau Region", "Pavlodar Region", "North Kazakhstan Region",
    "Turkistan Region", "Ulytau Region",
)


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """One place (or school) found in a text, with canonical English names."""

    region: str | None
    district: str | None
    town: str | None
    school: str | None
    span: tuple[int, int]
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `monitor match --json` prints and `post.places` stores)."""
        return {
            "region": self.region, "district": self.district, "town": self.town, "school": self.school,
            "span": list(self.span), "confidence": round(self.confidence, 3),
        }


class Places(Protocol):
    """Finds places in text and tells whether the text has a school/education context."""

    def match(self, text: str) -> list[PlaceMatch]: ...

    def has_education_context(self, text: str) -> bool: ...

    def analyze(self, text: str) -> tuple[list[PlaceMatch], bool]:
        """Both answers from one pass: (matches best first, has education context)."""
        ...


def _words_regex(words: Iterable[str], *, before: bool) -> re.Pattern[str]:
    """Any of `words` right before (or right after) a position; a word ending in "." is exact, others prefixes."""
    alts = sorted((re.escape(w) if w.endswith(".") else re.escape(w) + r"\w*" for w in words), key=len, reverse=True)
    body = "|".join(alts)
    if before:
        return re.compile(rf"(?:^|(?<=[^\w]))(?:{body})\s*$")
    return re.compile(rf"[\s,]*(?:{body})")


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    target: Target
    confidence: float
    priority: int


_SENTENCE_END = ".!?…\n"


class Gazetteer:
    """Places of the watched regions in ru/kk/en text: one Aho-Corasick pass over normalized text."""

    def __init__(
        self,
        rules: Sequence[NameRule],
        context: Context,
        *,
        regions: Sequence[str] = REGIONS,
        known_schools: Sequence[Target] = (),
    ) -> None:
        self.regions = frozenset(regions)
        self._automaton: Any = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, Any]]] = {}
        for rule in rules:
            entries.setdefault(rule.key, []).append(("place", rule))
        for phrase in context.blocked:
            entries.setdefault(phrase, []).append(("block", None))
        for word in context.education:
            entries.setdefault(word, []).append(("edu", None))
        for word in context.school_triggers:
            entries.setdefault(word, []).append(("school", None))
        for key, values in entries.items():
            self._automaton.add_word(key, (len(key), tuple(values)))
        self._automaton.make_automaton()
        self._district_after = _words_regex(context.district_words, before=False)
        self._district_before = _words_regex(context.district_words, before=True)
        self._region_after = _words_regex(context.region_words, before=False)
        self._region_before = _words_regex(context.region_words, before=True)
        self._town_after = _words_regex(context.town_after, before=False)
        self._town_before = _words_regex(context.town_before, before=True)
        self._block_before = _words_regex(context.block_before, before=True)
        self._block_after = _words_regex(context.block_after, before=False)
        self._person_before = re.compile(
            rf"(?:^|[^\w])(?:{'|'.join(re.escape(w) for w in context.person_before)})\s*(?:\w+\s+)?$"
        )
        self._known = {(t.district, t.school): t for t in known_schools} | {
            (t.town, t.school): t for t in known_schools if t.town
        }

    @classmethod
    def load(cls, settings: PlacesSettings, data_dir: Path = DATA_DIR) -> Gazetteer:
        """The gazetteer shipped in monitor/core/places/data, plus the configured known schools."""
        unknown = set(settings.regions) - set(ALL_REGIONS)
        if unknown:
            raise ConfigError(f"places.regions: unknown region {min(unknown)!r} (known: {', '.join(ALL_REGIONS)})")
        rules: list[NameRule] = []
        for name in PLACE_FILES:
            rules += load_place_file(data_dir / name)
        known: list[Target] = []
        if settings.schools_file:
            school_rules, known = load_known_schools(Path(settings.schools_file).expanduser())
            rules += school_rules
        return cls(rules, load_context(data_dir / "context.toml"), regions=settings.regions, known_schools=known)

    def match(self, text: str) -> list[PlaceMatch]:
        """Places and schools in `text`, best first (most specific, most confident), watched regions only."""
        return [m for m in self.analyze(text)[0] if m.region is None or m.region in self.regions]

    def is_watched(self, match: PlaceMatch) -> bool:
        """True when the place lies in a watched region (`[places] regions`)."""
        return match.region in self.regions

    def has_education_context(self, text: str) -> bool:
        """True when the text mentions a school, pupils, teachers, classes or minors (ru/kk/en)."""
        return self.analyze(text)[1]

    def analyze(self, text: str) -> tuple[list[PlaceMatch], bool]:
        """Places best first and whether the text has an education context, from one automaton pass."""
        norm = normalize(text)
        hits: list[_Hit] = []
        blocked: list[tuple[int, int]] = []
        has_edu = False
        triggers: list[int] = []
        for end, (length, values) in self._automaton.iter(norm):
            start = end - length + 1
            if start > 0 and norm[start - 1].isalnum():
                continue
            for kind, rule in values:
                if kind == "place":
                    hit = self._check(text, norm, start, end + 1, rule)
                    if hit is not None:
                        hits.append(hit)
                elif kind == "block":
                    blocked.append((start, _word_end(norm, end + 1)))
                elif kind == "edu":
                    has_edu = True
                else:
                    has_edu = True
                    triggers.append(start)
        # Look-alike blocks protect the detailed regions' names; elsewhere the longer name decides.
        detailed = [h for h in hits if h.target.region in DETAILED_REGIONS]
        places = _resolve(_drop_blocked(detailed, blocked) + [h for h in hits if h.target.region not in DETAILED_REGIONS])
        nearest = _nearest_place(places)
        schools = [self._school_match(s, nearest(s)) for s in find_schools(norm, text, triggers)] if triggers else []
        matches = _best_first(schools + [_to_match(h) for h in places])
        # Watched places first: a post about a Kaskelen school that mentions the ministry in Astana is
        # about Kaskelen. Unwatched places follow, so a post from elsewhere still gets its real place.
        matches.sort(key=lambda m: m.region is not None and m.region not in self.regions)
        return matches, has_edu or bool(schools)

    def _check(self, text: str, norm: str, start: int, end: int, rule: NameRule) -> _Hit | None:
        """A place hit when the ending after the key is allowed and its neighbours say so; else None."""
        word_end = _word_end(norm, end)
        if not SUFFIX_CLASSES[rule.suffix].fullmatch(norm, end, word_end) and not (
            rule.suffix == "noun" and end == word_end
        ):
            return None
        before = norm[max(0, start - 40):start]
        if self._block_before.search(before) or self._person_before.search(before):
            return None
        if self._block_after.match(norm, word_end):
            return None
        confidence, priority = rule.confidence, 1
        if rule.needs == "district":
            if not (self._district_after.match(norm, word_end) or self._district_before.search(before)):
                return None
            priority = 2
        elif rule.needs == "region":
            if not (self._region_after.match(norm, word_end) or self._region_before.search(before)):
                return None
            priority = 2
        elif rule.needs in ("town", "ambiguous"):
            if self._town_after.match(norm, word_end) or self._town_before.search(before):
                priority = 2
            elif rule.needs == "ambiguous" and _capitalized_mid_sentence(text, start):
                confidence = min(confidence, 0.6)
            else:
                return None
        return _Hit(start, word_end, rule.target, confidence, priority)

    def _school_match(self, school: SchoolMention, near: _Hit | None) -> PlaceMatch:
        """A school mention placed at the given place (or nowhere); a known school when listed."""
        target = near.target if near is not None else None
        if target is not None and target.school:
            return PlaceMatch(target.region, target.district, target.town, target.school, (school.start, school.end), 0.95)
        if target is None:
            return PlaceMatch(None, None, None, school.name, (school.start, school.end), 0.6)
        known = self._known.get((target.town, school.name)) or self._known.get((target.district, school.name))
        if known is not None and known.region == target.region:
            return PlaceMatch(known.region, known.district, known.town, known.school, (school.start, school.end), 0.95)
        return PlaceMatch(target.region, target.district, target.town, school.name, (school.start, school.end), 0.9)


def _word_end(norm: str, pos: int) -> int:
    while pos < len(norm) and norm[pos].isalpha():
        pos += 1
    return pos


def _capitalized_mid_sentence(text: str, start: int) -> bool:
    if not text[start].isupper() or (start + 1 < len(text) and text[start + 1].isupper()):
        return False
    i = start - 1
    while i >= 0 and text[i] in " \t\"'«(":
        i -= 1
    return i >= 0 and text[i] not in _SENTENCE_END


def _drop_blocked(hits: list[_Hit], blocked: list[tuple[int, int]]) -> list[_Hit]:
    """Hits that overlap no blocked phrase (binary search over the merged blocked spans)."""
    if not blocked:
        return hits
    merged: list[tuple[int, int]] = []
    for b0, b1 in sorted(blocked):
        if merged and b0 <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b1))
        else:
            merged.append((b0, b1))
    starts = [b0 for b0, _ in merged]
    out = []
    for hit in hits:
        i = bisect_left(starts, hit.end)  # merged[i - 1] is the last span starting before the hit ends
        if not (i and merged[i - 1][1] > hit.start):
            out.append(hit)
    return out


def _resolve(hits: list[_Hit]) -> list[_Hit]:
    """Overlapping hits: the one with a confirming neighbour, then the longer, then the more confident."""
    hits.sort(key=lambda h: h.start)
    kept: list[_Hit] = []
    cluster: list[_Hit] = []
    end = -1
    for hit in hits:
        if cluster and hit.start >= end:
            kept += _pick(cluster)
            cluster = []
        end = hit.end if not cluster else max(end, hit.end)
        cluster.append(hit)
    return kept + _pick(cluster)


def _pick(cluster: list[_Hit]) -> list[_Hit]:
    """The best non-overlapping hits of one cluster of overlapping ones, in text order."""
    cluster.sort(key=lambda h: (-h.priority, -(h.end - h.start), -h.confidence, h.start))
    chosen: list[_Hit] = []
    for hit in cluster:
        if not any(hit.start < c.end and c.start < hit.end for c in chosen):
            chosen.append(hit)
    return sorted(chosen, key=lambda h: h.start)


def _nearest_place(places: list[_Hit]) -> Callable[[SchoolMention], _Hit | None]:
    """For a school: the most specific place named in the text, the nearest of those.

    "Жамбылский район Алматинской области, школа №8" is a school of the district, not of the region.
    """
    if not places:
        return lambda school: None
    top = max(_target_specificity(h.target) for h in places)
    best = [h for h in places if _target_specificity(h.target) == top]  # already in text order
    starts = [h.start for h in best]

    def nearest(school: SchoolMention) -> _Hit | None:
        i = bisect_left(starts, school.start)
        around = best[max(0, i - 1):i + 1]
        return min(around, key=lambda h: min(abs(h.start - school.end), abs(school.start - h.end)))

    return nearest


def _to_match(hit: _Hit) -> PlaceMatch:
    t = hit.target
    return PlaceMatch(t.region, t.district, t.town, t.school, (hit.start, hit.end), hit.confidence)


def _target_specificity(t: Target) -> int:
    return 2 if t.town else 1 if t.district else 0


def _specificity(m: PlaceMatch) -> int:
    return 3 if m.school else 2 if m.town else 1 if m.district else 0


def _best_first(matches: list[PlaceMatch]) -> list[PlaceMatch]:
    """Most specific, then most confident, then earliest; the same place named twice is listed once."""
    matches.sort(key=lambda m: (-_specificity(m) if m.region else -1, -m.confidence, m.span[0]))
    seen: set[tuple[str | None, ...]] = set()
    out: list[PlaceMatch] = []
    for m in matches:
        key = (m.region, m.district, m.town, m.school)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out

