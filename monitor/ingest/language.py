"""Language of a post: ru, kk, en or other, from its script and a few telling words."""

from __future__ import annotations

import re

from monitor.core.romanized import is_romanized

# Letters that Kazakh Cyrillic has and Russian does not.
_KK_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_LATIN = re.compile("[A-Za-z]")
_KK = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")
# Frequent Kazakh words written without the special letters (e.g. on keyboards without them)
# and in the Latin alphabet of 2021, which Russian/English texts do not use.
_KK_WORDS = frozenset(
    ["мен", "және", "бойынша", "туралы", "бұл", "осы", "мектеп", "мектепте", "мектебінде", "оқушы", "оқушылар", "оқушысы", "ауданы", "ауданында", "қаласы", "қаласында", "облысы", "облысында", "жылы", "болды", "бар", "жоқ", "деп", "мектеби", "мектепте", "оқушылары", "mektep", "mektepte", "mektebinde", "oqushy", "oqushylar", "audany", "audanynda", "qalasy", "qalasynda", "oblysy", "jane", "boiynsha", "turaly", "bul", "osy", "boldy", "tobelesi", "tobelesti", "urip", "soqty"]
)
_RU_LATIN_WORDS = frozenset(
    ["shkola", "shkole", "shkoly", "shkolu", "uchenik", "ucheniki", "uchenika", "izbili", "bili", "drakа", "draka", "uchitel", "uchitelnitsa", "klass", "klassa"]
)


def detect_language(text: str) -> str:
    """Best guess of ru / kk / en / other for short social-media texts."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    kk_letters = len(_KK.findall(text)) if cyrillic else 0
    if cyrillic == 0 and latin == 0:
        return "other"
    words = [w.casefold() for w in _WORD.findall(text)]
    if cyrillic >= latin:
        kk_hits = sum(1 for w in words if w in _KK_WORDS)
        # One Kazakh letter in a long Russian text (a place name) does not make it Kazakh.
        if kk_letters >= max(2, cyrillic // 60) or kk_hits >= 2:
            return "kk"
        return "ru"
    # Latin script: English, or Russian/Kazakh typed in Latin letters (the classifier's own test).
    if not is_romanized(text):
        return "en"
    kk_hits = sum(1 for w in words if w in _KK_WORDS)
    ru_hits = sum(1 for w in words if w in _RU_LATIN_WORDS)
    if kk_hits and kk_hits >= ru_hits:
        return "kk"
    if ru_hits:
        return "ru"
    return "other"
