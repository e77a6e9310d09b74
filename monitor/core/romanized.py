"""Russian/Kazakh typed in Latin letters ("shkolnika izbili", "mektepte tobelesti") back to Cyrillic.

The encoder reads Cyrillic far better than phone transliteration, so a post that looks romanized
(mostly Latin letters, hardly any English function words) is encoded in an approximate Cyrillic
rendering. The rendering is lossy (ә/а, қ/к, і/и are not recovered) but lands on the right subwords.
"""

from __future__ import annotations

import re

# Longest first: multi-letter digraphs before single letters.
_RULES: tuple[tuple[str, str], ...] = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("ya", "я"), ("ia", "я"), ("yu", "ю"), ("iu", "ю"), ("yo", "ё"), ("ye", "е"), ("gh", "ғ"),
    ("a", "а"), ("b", "б"), ("c", "ц"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "х"),
    ("i", "и"), ("j", "ж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("q", "қ"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"), ("w", "у"), ("x", "кс"),
    ("y", "ы"), ("z", "з"),
    # The 2021 Kazakh Latin alphabet.
    ("ä", "ә"), ("ğ", "ғ"), ("ñ", "ң"), ("ö", "ө"), ("ū", "ұ"), ("ü", "ү"), ("ı", "ы"), ("ş", "ш"),
    ("ç", "ч"),
)
_PATTERN = re.compile("|".join(re.escape(a) for a, _ in sorted(_RULES, key=lambda r: -len(r[0]))), re.IGNORECASE)
_MAP = dict(_RULES)
_WORD = re.compile(r"[^\W\d_]+")
# Words frequent in English news and posts but not in romanized Russian/Kazakh.
_ENGLISH = frozenset(
    ["the", "a", "an", "of", "to", "in", "and", "is", "was", "were", "are", "at", "on", "for", "with", "by", "from", "after", "his", "her", "their", "they", "he", "she", "it", "that", "this", "school", "students", "student", "pupils", "teacher", "police", "said", "has", "have", "been", "who", "not", "but", "or", "about"]
)


def is_romanized(text: str) -> bool:
    """True when the text is mostly Latin words and few of them are English function words."""
    words = _WORD.findall(text[:2000].lower())
    if len(words) < 2:
        return False
    latin = [w for w in words if w.isascii() or all(ch.isascii() or ch in "äğñöūüışç" for ch in w)]
    if len(latin) < 0.7 * len(words):
        return False
    english = sum(1 for w in latin if w in _ENGLISH)
    return english < 0.08 * len(latin)


def to_cyrillic(text: str) -> str:
    """An approximate Cyrillic rendering of a romanized text (case kept for the first letter of a match)."""
    def sub(m: re.Match[str]) -> str:
        low = m.group(0).lower()
        # Case-insensitive matching also pairs the dotless ı with i (e.g. "ıa"): map such letters one by one.
        out = _MAP.get(low) or "".join(_MAP.get(ch, ch) for ch in low)
        return out.upper() if m.group(0)[0].isupper() else out

    return _PATTERN.sub(sub, text)


def for_encoder(text: str) -> str:
    """The text the encoder reads: the Cyrillic rendering for romanized posts, else the text itself."""
    return to_cyrillic(text) if is_romanized(text) else text
