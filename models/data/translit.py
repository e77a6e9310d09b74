"""Latin-script renderings of Russian and Kazakh posts, the way people type them on phones."""

from __future__ import annotations

import random

# Informal ASCII: what most users type ("mektepte tobelesti", "izbili v shkole").
# fmt: off
_COMMON = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "і": "i", "һ": "h",
}
_INFORMAL_VARIANTS = {"х": ["h", "kh"], "ц": ["ts", "c"], "ы": ["y", "i"], "я": ["ya", "ia"], "қ": ["k", "q"]}
# The 2021 Kazakh Latin alphabet, seen in official and younger users' posts.
_KK_2021 = {
    "ә": "ä", "ғ": "ğ", "қ": "q", "ң": "ñ", "ө": "ö", "ұ": "ū", "ү": "ü", "і": "i", "ы": "ı",
    "ш": "ş", "ч": "ç", "ж": "j", "й": "i", "у": "u", "х": "h", "һ": "h",
}
# fmt: on


def _table(group: str, rng: random.Random) -> dict[str, str]:
    """Pick one spelling system for a whole text."""
    table = dict(_COMMON)
    if group == "kk" and rng.random() < 0.25:
        table.update(_KK_2021)
        return table
    for ch, options in _INFORMAL_VARIANTS.items():
        table[ch] = rng.choice(options)
    return table


def to_latin(text: str, group: str, rng: random.Random) -> str:
    """Transliterate Cyrillic in `text` to Latin; case kept, often lowered as in chats."""
    table = _table(group, rng)
    out: list[str] = []
    for ch in text:
        low = ch.lower()
        if low in table:
            rep = table[low]
            out.append(rep.capitalize() if ch != low and rep else rep)
        else:
            out.append(ch)
    result = "".join(out)
    return result.lower() if rng.random() < 0.6 else result
