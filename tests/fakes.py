"""Fakes for the seams, used only by tests: a keyword classifier and a lookup-table gazetteer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from monitor.core.classification import ClassifyItem, Evidence, Verdict
from monitor.core.places.gazetteer import PlaceMatch
from monitor.core.vocab import CATEGORIES

KEYWORDS = {
    "physical_violence": ("избили", "драка", "fight", "beat", "төбелес", "ұрып"),
    "bullying": ("травля", "буллинг", "bully", "қорлау"),
    "extortion": ("вымогали", "налог", "дань", "extort", "бопсалау"),
    "threat_weapon": ("нож", "knife", "пышақ", "угрожал"),
}
CRITICAL = ("нож", "knife", "пышақ", "больниц", "hospital", "аурухана")


class KeywordClassifier:
    """Flags texts containing any keyword; deterministic, instant."""

    def __init__(self, version: str = "keyword-test-1") -> None:
        self._version = version
        self.calls = 0

    @property
    def version(self) -> str:
        return self._version

    def classify(self, items: Sequence[ClassifyItem]) -> list[Verdict]:
        self.calls += 1
        out = []
        for item in items:
            low = item.text.casefold()
            cats = dict.fromkeys(CATEGORIES, 0.02)
            evidence = []
            for cat, words in KEYWORDS.items():
                for word in words:
                    i = low.find(word)
                    if i >= 0:
                        cats[cat] = 0.9
                        evidence.append(Evidence(i, i + len(word), item.text[i:i + len(word)]))
            score = max(cats.values())
            severity = "none"
            if score >= 0.5:
                severity = "critical" if any(w in low for w in CRITICAL) else "high" if item.has_video else "medium"
            out.append(Verdict(flag=score >= 0.5, score=score, categories=cats, severity=severity,
                               evidence=tuple(evidence)))
        return out


_DISTRICTS = {"талгар": ("Almaty Region", "Talgar"), "каскелен": ("Almaty Region", "Karasai"),
              "талдыкорган": ("Zhetysu Region", "Taldykorgan")}
_SCHOOL = re.compile(r"школ[аеуы]\s*№\s*(\d+)", re.IGNORECASE)


class TablePlaces:
    """Finds a handful of fixed names; enough to test that the pipeline stores places."""

    def match(self, text: str) -> list[PlaceMatch]:
        low = text.casefold()
        out = []
        school = _SCHOOL.search(text)
        for name, (region, district) in _DISTRICTS.items():
            i = low.find(name)
            if i >= 0:
                out.append(PlaceMatch(region, district, None, f"School No. {school.group(1)}" if school else None,
                                      (i, i + len(name)), 0.9))
        return out

    def analyze(self, text: str) -> tuple[list[PlaceMatch], bool]:
        return self.match(text), self.has_education_context(text)

    def has_education_context(self, text: str) -> bool:
        low = text.casefold()
        return any(w in low for w in ("школ", "school", "мектеп", "ученик", "оқушы"))
