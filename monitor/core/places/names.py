"""Gazetteer data: text normalization, name grammar (Russian endings, Kazakh suffixes) and the TOML/CSV loaders."""

from __future__ import annotations

import csv
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.core.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"

# Kazakh letters fold to their nearest Russian ones and Latin diacritics to plain letters, so that
# "Қаскелең", "Каскелен", "Qaskeleñ" and "Kaskelen" meet; q -> k joins Kazakh Latin and English.
_FOLD = {
    "ё": "е", "ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и",
    "ı": "i", "q": "k", "ǵ": "g", "ğ": "g", "ń": "n", "ñ": "n", "ş": "s", "ç": "c", "ū": "u",
    "\u00a0": " ", "\t": " ", "\n": " ", "\r": " ", "\u2009": " ", "\u202f": " ", "\u200b": " ",
    "–": "-", "—": "-", "‑": "-", "‐": "-", "’": "'", "ʼ": "'",
}


def _fold_char(ch: str) -> str:
    low = ch.lower()
    if len(low) != 1:
        low = ch
    if low in _FOLD:
        return _FOLD[low]
    if "\u00c0" <= low <= "\u024f":
        base = unicodedata.normalize("NFD", low)[0]
        return _FOLD.get(base.lower(), base.lower())
    return low


def _fold_table() -> dict[int, str]:
    chars = [chr(c) for c in range(0x41, 0x5B)] + [chr(c) for c in range(0xC0, 0x250)]
    chars += [chr(c) for c in range(0x400, 0x530)] + list(_FOLD)
    return {ord(c): _fold_char(c) for c in chars if _fold_char(c) != c}


FOLD_TABLE = _fold_table()


def normalize(text: str) -> str:
    """Lower-cased, folded text of the same length as `text`, so offsets map back one to one."""
    return text.translate(FOLD_TABLE)


def normalize_name(name: str) -> str:
    """A gazetteer name in the form it is looked up in (normalized, single spaces)."""
    return " ".join(normalize(name).split())


# Suffix grammar, on normalized text. Kazakh case, possessive, -лық and plural morphemes stack.
_KK_CYR = (
    r"(?:сы|си|ы|и)?(?:лык|лик|дык|дик|тык|тик)?(?:лар|лер|дар|дер|тар|тер)?"
    r"(?:н?(?:да|де|та|те)(?:гы|ги)?|га|ге|ка|ке|на|не|а|е|дан|ден|тан|тен|нан|нен"
    r"|нын|нин|дын|дин|тын|тин|ны|ни|ды|ди|ты|ти|н|менен|мен|бен|пен|дай|дей|тай|тей)?"
)
_TO_LATIN = str.maketrans("аеыидтнгклрмбпсу", "aeyidtngklrmbpsu")
KK_SUFFIX = f"(?:{_KK_CYR}|{_KK_CYR.translate(_TO_LATIN)})"
# Singular cases only: plural "-ов" would take "Батыров" for "Өтеген батыр".
RU_NOUN = r"(?:а|у|е|ом|ем|ы|и|ой|ю|я)"
RU_SOFT = r"(?:е|я|ю|ем|и|ей|ью|у|ой|ы)"
RU_ADJ = r"(?:ий|ый|ой|ого|его|ому|ему|ом|ем|им|ым|ая|яя|ую|юю|ое|ее|ие|ые|их|ых|ими|ыми|ей|ого)"

SUFFIX_CLASSES: dict[str, re.Pattern[str]] = {
    "noun": re.compile(f"(?:{RU_NOUN}|{KK_SUFFIX})"),
    "soft": re.compile(RU_SOFT),
    "adj": re.compile(RU_ADJ),
}

# Which neighbour a name needs before it counts: none, a district word, a region word, a town word,
# or (ambiguous) a town word or a capital letter in mid-sentence.
NEEDS = ("none", "district", "region", "town", "ambiguous")
_NAME_FIELDS = {
    "names": "none", "district_names": "district", "region_names": "region",
    "town_names": "town", "ambiguous": "ambiguous",
}
_PLACE_KEYS = {"region", "district", "town", "school", "confidence", *_NAME_FIELDS}


@dataclass(frozen=True, slots=True)
class Target:
    """What a name points to (canonical English names)."""

    region: str
    district: str | None
    town: str | None
    school: str | None = None


@dataclass(frozen=True, slots=True)
class NameRule:
    """One lookup key: the normalized stem, which endings may follow it and what it needs around it."""

    key: str
    suffix: str
    needs: str
    target: Target
    confidence: float


def name_rules(name: str, needs: str, target: Target, confidence: float) -> list[NameRule]:
    """The lookup keys for one written name: adjective stems ("...*"), nouns and their soft stems."""
    norm = normalize_name(name)
    if norm.endswith("*"):
        return [NameRule(norm[:-1], "adj", needs, target, confidence)]
    rules = [NameRule(norm, "noun", needs, target, confidence)]
    # Russian declension replaces a final й/ь/а/я: Капшагай -> в Капшагае, Тургень -> в Тургене.
    if len(norm) > 4 and norm[-1] in "йьая" and " " not in norm:
        rules.append(NameRule(norm[:-1], "soft", needs, target, confidence))
    return rules


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read gazetteer data: {e}") from None


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return value


def load_place_file(path: Path) -> list[NameRule]:
    """The name rules of one gazetteer TOML file; ConfigError naming the file and the entry."""
    data = _read_toml(path)
    rules: list[NameRule] = []
    for i, entry in enumerate(data.get("place", [])):
        where = f"{path.name}: place[{i}]"
        unknown = set(entry) - _PLACE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key {min(unknown)}")
        if not isinstance(entry.get("region"), str):
            raise ConfigError(f"{where}: region is required")
        target = Target(entry["region"], entry.get("district"), entry.get("town"), entry.get("school"))
        confidence = float(entry.get("confidence", 0.9))
        for field, needs in _NAME_FIELDS.items():
            for name in _str_list(entry.get(field, []), f"{where}.{field}"):
                rules += name_rules(name, needs, target, confidence)
    return rules


@dataclass(frozen=True, slots=True)
class Context:
    """The word lists of context.toml, normalized."""

    district_words: tuple[str, ...]
    region_words: tuple[str, ...]
    town_before: tuple[str, ...]
    town_after: tuple[str, ...]
    block_before: tuple[str, ...]
    person_before: tuple[str, ...]
    block_after: tuple[str, ...]
    blocked: tuple[str, ...]
    school_triggers: tuple[str, ...]
    education: tuple[str, ...]


def load_context(path: Path) -> Context:
    """The context word lists; ConfigError when one is missing or malformed."""
    data = _read_toml(path)
    fields = Context.__dataclass_fields__
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{path.name}: unknown key {min(unknown)}")
    values = {f: tuple(normalize_name(w) for w in _str_list(data.get(f), f"{path.name}: {f}")) for f in fields}
    return Context(**values)


def load_known_schools(path: Path) -> tuple[list[NameRule], list[Target]]:
    """A CSV of known schools: region,district,town,school,aliases (aliases split by |); rules and targets."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"places.schools_file {path}: cannot read: {e}") from None
    rules: list[NameRule] = []
    targets: list[Target] = []
    for line, row in enumerate(rows, start=2):
        region, school = (row.get("region") or "").strip(), (row.get("school") or "").strip()
        if not region or not school:
            raise ConfigError(f"places.schools_file {path}, line {line}: region and school are required")
        district = (row.get("district") or "").strip() or None
        target = Target(region, district, (row.get("town") or "").strip() or None, school)
        targets.append(target)
        for alias in (row.get("aliases") or "").split("|"):
            if alias.strip():
                rules += name_rules(alias, "none", target, 0.95)
    return rules, targets
