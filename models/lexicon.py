"""A small, transparent multilingual lexicon (ru, kk, en, Latin transliteration): evidence spans and features.

Each entry is a regular expression over lower-cased text anchored at a word start; the stems are chosen to
catch inflected forms (Russian and Kazakh are heavily inflected) and common Latin transliterations. The
lexicon never decides a flag on its own: its hit counts are features beside the embedding, and its
spans are the evidence shown to reviewers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.core.vocab import CATEGORIES

_W = r"(?<![\w])"  # a word start (works for Cyrillic and Latin alike)

# Signals: categories plus the severity signals (weapon, injury, sexual, video, crowd) and context cues.
PATTERNS: dict[str, tuple[str, ...]] = {
    "physical_violence": (
        r"изби(?!рат)\w*", r"побо\w+", r"драк\w*", r"подрал\w*", r"избиени\w*",
        r"ударил\w*", r"ударов", r"пинал\w*", r"толкнул\w*", r"нап(ал|ад)\w*", r"жесток\w*",
        r"ұр(ды|ып|ған|ған|а бастады|ылған)\w*", r"төбелес\w*", r"соққы\w*", r"теп(кіле|ті)\w*",
        r"beat(en|ing)?\b", r"assault\w*", r"punch\w*", r"kick(ed|ing)\b", r"attack(ed|s)?\b", r"fight(s|ing)?\b",
        r"izbi(?!rat)\w*", r"drak\w*", r"pobo\w+", r"urip\w*", r"urdy\w*", r"tobeles\w*",
    ),
    "bullying": (
        r"травл\w*", r"затрав\w*", r"буллинг\w*", r"булли\w*", r"издева\w*", r"унижа\w*", r"униз\w*",
        r"дразн\w*", r"оскорб\w*", r"бойкот\w*", r"изгой\w*", r"запуг\w*",
        r"қорла\w*", r"мазақ\w*", r"кемсіт\w*", r"буллинг\w*", r"қудала\w*", r"келеке\w*",
        r"bull(y|ied|ying|ies)\b", r"harass\w*", r"humiliat\w*", r"taunt\w*", r"torment\w*",
        r"travl\w*", r"izdeva\w*", r"bulling\w*", r"unizha\w*", r"qorla\w*", r"mazaq\w*",
    ),
    "cyberbullying": (
        r"кибербулл\w*", r"в сет[иь]\w*", r"в чат\w*", r"чате\b", r"в тикток\w*", r"тикток\w*", r"инстаграм\w*",
        r"ватсап\w*", r"whatsapp\w*", r"телеграм\w*", r"выложил\w*", r"слил\w*", r"фейков\w* аккаунт\w*",
        r"әлеуметтік желі\w*", r"желіде\w*", r"желіге\w*", r"чатта\w*", r"парақша\w*",
        r"cyberbull\w*", r"online\b", r"group chat\w*", r"social media\b", r"tiktok\w*", r"instagram\w*",
        r"posted (a |the )?(video|photo)s?\b", r"fake account\w*", r"v seti\b", r"v chate\b", r"kiberbull\w*",
    ),
    "extortion": (
        r"вымога\w*", r"отбира\w*", r"отнял\w*", r"поборы?\b", r"требовал\w* деньг\w*", r"деньги на\b",
        r"бопса\w*", r"ақша талап\w*", r"ақшасын тартып\w*", r"тартып ал\w*", r"ақша жина\w*",
        r"extort\w*", r"demand(ed|ing)? money\b", r"took (his|her|their) (money|phone)\w*", r"shake(s|d)? down\b",
        r"vymoga\w*", r"otbira\w*", r"aqsha talap\w*",
    ),
    "sexual_misconduct": (
        r"домога\w*", r"развращ\w*", r"растлени\w*", r"сексуальн\w*", r"изнасил\w*", r"интимн\w*",
        r"непристойн\w*", r"педофил\w*", r"жыныстық\w*", r"зорлау\w*", r"зорлық-зомбылық\w*", r"азғыру\w*",
        r"sexual\w*", r"molest\w*", r"groom(ed|ing)\b", r"rape\w*", r"indecent\w*", r"explicit (photo|image)s?\b",
        r"domoga\w*", r"seksual\w*", r"zorla\w*",
    ),
    "teacher_misconduct": (
        r"учител\w* (удар|избил|оскорб|унизил|кричал|схватил|толкнул|бил|запер)\w*",
        r"педагог\w* (удар|избил|оскорб|унизил|кричал|схватил|толкнул|бил)\w*",
        r"(учительниц|учитель|педагог|классн\w* руководител|завуч|директор)\w*",
        r"мұғалім\w*", r"ұстаз\w*", r"сынып жетекші\w*", r"мектеп директор\w*",
        r"teacher\w*", r"(head ?teacher|principal|coach)\w*", r"uchitel\w*", r"mugalim\w*", r"muğalim\w*",
    ),
    "threat_weapon": (
        r"нож\w*", r"пистолет\w*", r"оружи\w*", r"стрельб\w*", r"ружь\w*", r"травмат\w*", r"взорв\w*",
        r"угрож\w*", r"угроз\w*", r"расстрел\w*", r"минирован\w*", r"скулшут\w*", r"колумбайн\w*",
        r"пышақ\w*", r"қару\w*", r"қорқыт\w*", r"атыс\w*", r"жарыл\w*", r"өлтіре\w*", r"қоқан-лоқы\w*",
        r"knife\w*", r"knives\b", r"gun\w*", r"weapon\w*", r"shoot\w*", r"threat\w*", r"bomb\w*", r"stabb?\w*",
        r"nozh\w*", r"pichaq\w*", r"pyshaq\w*", r"ugroz\w*", r"oruzh\w*",
    ),
    "injury": (
        r"больниц\w*", r"госпитал\w*", r"травм\w*", r"сотрясени\w*", r"перелом\w*", r"реанимац\w*",
        r"скорая\b", r"скорую\b", r"ранен\w*", r"погиб\w*", r"скончал\w*", r"суицид\w*",
        r"аурухана\w*", r"жарақат\w*", r"мерт\w*", r"қайтыс\w*", r"жедел жәрдем\w*", r"сынған\w*",
        r"hospital\w*", r"injur\w*", r"concussion\w*", r"broken (arm|nose|leg|rib)s?\b", r"died\b", r"suicid\w*",
        r"bolnic\w*", r"travm\w*", r"auruhana\w*",
    ),
    "video": (r"видео\w*", r"ролик\w*", r"бейнежазба\w*", r"бейне\w*", r"video\w*", r"footage\b", r"clip\b"),
    "crowd": (
        r"толп\w*", r"несколько (учеников|подростков|старшеклассников)\b", r"групп\w* (подростков|учеников)\b",
        r"вчетвером\b", r"втроем\b", r"впятером\b", r"бірнеше оқушы\w*", r"топ(пен|тасып)\w*",
        r"group of\b", r"several (students|pupils|teens)\b", r"gang\w*",
    ),
    "school": (
        r"школ\w*", r"гимнази\w*", r"лице[йя]\w*", r"ученик\w*", r"ученица\w*", r"школьни\w*", r"старшеклассни\w*",
        r"одноклассни\w*", r"класс\w*", r"мектеп\w*", r"оқушы\w*", r"сынып\w*", r"school\w*", r"pupil\w*",
        r"student\w*", r"classmate\w*", r"grader\w*", r"shkol\w*", r"uchenik\w*", r"mektep\w*", r"oqushy\w*",
    ),
    "benign": (
        r"турнир\w*", r"чемпионат\w*", r"соревновани\w*", r"борьб\w* за\b", r"вольн\w* борьб\w*", r"күрес\w*",
        r"олимпиад\w*", r"фильм\w*", r"книг\w*", r"спектакл\w*", r"сериал\w*", r"акци\w* против\b",
        r"профилактик\w*", r"тренинг\w*", r"семинар\w*", r"ремонт\w*", r"выпускн\w*", r"ЕНТ\b", r"ҰБТ\b",
        r"жарыс\w*", r"байқау\w*", r"кино\w*", r"tournament\w*", r"championship\w*", r"wrestling\b",
        r"olympiad\w*", r"movie\w*", r"film\w*", r"novel\w*", r"campaign\w*", r"workshop\w*", r"graduation\w*",
    ),
}
CATEGORY_SIGNALS: tuple[str, ...] = tuple(c.value for c in CATEGORIES)
# Which signals are shown as evidence (context cues like "school" explain nothing on their own).
EVIDENCE_SIGNALS = (*CATEGORY_SIGNALS, "injury")
SIGNALS = tuple(PATTERNS)
_COMPILED = {
    name: re.compile("|".join(f"{_W}(?:{p})" for p in pats), re.IGNORECASE) for name, pats in PATTERNS.items()
}
# Features cap long texts: a 1 MB post must not cost seconds in regexes.
MAX_SCAN_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Hit:
    """One lexicon match: the signal it belongs to and its character span in the original text."""

    signal: str
    start: int
    end: int
    text: str


def find_hits(text: str) -> list[Hit]:
    """Every lexicon match in the first MAX_SCAN_CHARS characters, sorted by position."""
    scan = text[:MAX_SCAN_CHARS]
    hits = [
        Hit(name, m.start(), m.end(), scan[m.start():m.end()])
        for name, rx in _COMPILED.items()
        for m in rx.finditer(scan)
    ]
    return sorted(hits, key=lambda h: (h.start, h.end, h.signal))


def features(texts: Sequence[str]) -> np.ndarray:
    """(n, len(SIGNALS)) float32: log(1 + hits) per signal, the lexicon half of the head's input."""
    return features_of_hits([find_hits(text) for text in texts])


def features_of_hits(hits: Sequence[Sequence[Hit]]) -> np.ndarray:
    """`features` from hits already found (classification needs the hits for evidence too)."""
    out = np.zeros((len(hits), len(SIGNALS)), dtype=np.float32)
    index = {s: i for i, s in enumerate(SIGNALS)}
    for row, found in enumerate(hits):
        for hit in found:
            out[row, index[hit.signal]] += 1.0
    return np.log1p(out)


def signals_of(hits: Sequence[Hit]) -> set[str]:
    """The set of signal names present in `hits`."""
    return {h.signal for h in hits}
