"""Severity of a flagged post from its categories, score and signals; the rules come from config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.core.errors import ConfigError
from monitor.core.vocab import CATEGORIES, SEVERITIES, severity_rank

SEVERITY_SIGNALS = ("weapon", "injury", "sexual", "video", "crowd", "school", "high_score")
# Weapon and sexual categories start at medium because their own signal adds one: a weapon threat is
# high, with an injury critical. A named school and a very high score are recorded as signals but add
# nothing by default (most queued posts name a school; the scores are confident on most incidents).
DEFAULT_BASE = {
    "threat_weapon": "medium", "sexual_misconduct": "medium", "physical_violence": "medium",
    "extortion": "medium", "teacher_misconduct": "medium", "bullying": "low", "cyberbullying": "low",
}
DEFAULT_BUMP = {"weapon": 1, "injury": 1, "sexual": 1, "video": 1, "crowd": 1, "school": 0, "high_score": 0}


@dataclass(frozen=True)
class SeverityRules:
    """base severity per category; +bump per signal present, at most max_bump in all; capped at critical."""

    base: Mapping[str, str]
    bump: Mapping[str, int]
    max_bump: int = 2
    high_score: float = 0.9
    flagged_floor: str = "low"

    def severity(self, flag: bool, score: float, categories: Mapping[str, float], category_threshold: float,
                 signals: set[str]) -> str:
        """'none' when not flagged; else the top category's base raised by the signals present."""
        if not flag:
            return "none"
        present = {c for c, p in categories.items() if p >= category_threshold}
        rank = max([severity_rank(self.base[c]) for c in present] + [severity_rank(self.flagged_floor)])
        found = set(signals)
        if score >= self.high_score:
            found.add("high_score")
        bump = min(sum(self.bump.get(s, 0) for s in found), self.max_bump)
        return SEVERITIES[min(rank + bump, len(SEVERITIES) - 1)]


def rules_from_config(raw: Mapping[str, Any]) -> SeverityRules:
    """SeverityRules from classifier.severity_rules (keys base, bump, max_bump, high_score); ConfigError if wrong."""
    where = "classifier.severity_rules"
    unknown = set(raw) - {"base", "bump", "max_bump", "high_score", "flagged_floor"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    base = dict(DEFAULT_BASE)
    for cat, sev in dict(raw.get("base", {})).items():
        if cat not in CATEGORIES or sev not in SEVERITIES:
            raise ConfigError(f"{where}.base.{cat}: expected a category of {CATEGORIES} and a severity of {SEVERITIES}")
        base[cat] = sev
    bump = dict(DEFAULT_BUMP)
    for signal, value in dict(raw.get("bump", {})).items():
        if signal not in SEVERITY_SIGNALS or not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}.bump.{signal}: expected one of {SEVERITY_SIGNALS} with a whole number >= 0")
        bump[signal] = value
    try:
        max_bump = int(raw.get("max_bump", 2))
        high_score = float(raw.get("high_score", 0.9))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: max_bump must be a whole number and high_score a number") from None
    floor = str(raw.get("flagged_floor", "low"))
    if floor not in SEVERITIES:
        raise ConfigError(f"{where}.flagged_floor: expected one of {SEVERITIES}")
    return SeverityRules(base, bump, max_bump, high_score, floor)
