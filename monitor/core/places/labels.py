"""Place and school names in the reader's language: "Talgar" / "Талгар" / "Талғар", "School No. 3" / "школа №3" / "№3 мектеп"."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache

from monitor.core.places.names import DATA_DIR

# Kind of school -> (Russian, Kazakh); Russian puts the number after, Kazakh before ("№3 мектеп").
_SCHOOL_KINDS: dict[str, tuple[str, str]] = {
    "School": ("школа", "мектеп"),
    "School-Gymnasium": ("школа-гимназия", "мектеп-гимназия"),
    "School-Lyceum": ("школа-лицей", "мектеп-лицей"),
    "Boarding School": ("школа-интернат", "мектеп-интернат"),
    "Gymnasium": ("гимназия", "гимназия"),
    "Lyceum": ("лицей", "лицей"),
}
_NUMBERED = re.compile(r"^(?P<kind>.+?) No\. (?P<number>[^\s()]+)(?: \((?P<town>[^()]+)\))?$")


@lru_cache(maxsize=1)
def _names() -> dict[str, dict[str, str]]:
    data = tomllib.loads((DATA_DIR / "labels.toml").read_text(encoding="utf-8"))
    return {key: dict(value) for key, value in data.items()}


def place_label(name: str, language: str) -> str:
    """The name in `language` (ru, kk, en); an unknown name is shown as stored."""
    if language == "en":
        return name
    numbered = _NUMBERED.match(name)
    if numbered and numbered.group("kind") in _SCHOOL_KINDS:
        ru, kk = _SCHOOL_KINDS[numbered.group("kind")]
        number, town = numbered.group("number"), numbered.group("town")
        label = f"№{number} {kk}" if language == "kk" else f"{ru} №{number}"
        return f"{label} ({place_label(town, language)})" if town else label
    return _names().get(name, {}).get(language, name)
