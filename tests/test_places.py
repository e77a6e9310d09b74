"""The gazetteer: the hand-written cases, spans, regions, schools, known schools, bad data, `monitor match`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench.match import Case, best, evaluate, load_cases
from monitor.core.config import PlacesSettings
from monitor.core.errors import ConfigError
from monitor.core.places.gazetteer import Gazetteer
from monitor.core.places.names import load_place_file, normalize

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = Path(__file__).parent / "fixtures" / "places" / "cases.tsv"
CASES = load_cases(CASES_FILE)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    """The shipped gazetteer, all three regions watched."""
    return Gazetteer.load(PlacesSettings())


def test_cases_file_is_large_and_balanced() -> None:
    by_language = Counter(c.language for c in CASES)
    negatives = sum(c.expected is None for c in CASES)
    assert len(CASES) >= 200
    assert negatives >= len(CASES) / 3 - 1
    assert set(by_language) == {"ru", "kk", "kkl", "en"} and min(by_language.values()) >= 20


@pytest.mark.parametrize("case", CASES, ids=[f"{c.language}-{i}" for i, c in enumerate(CASES)])
def test_case(gazetteer: Gazetteer, case: Case) -> None:
    assert best(gazetteer, case.text) == case.expected


def test_precision_and_recall_on_cases(gazetteer: Gazetteer) -> None:
    scores = evaluate(gazetteer, CASES)
    print(f"\ngazetteer on {scores['cases']} cases: precision {scores['precision']}, recall {scores['recall']}")
    assert scores["precision"] >= 0.97 and scores["recall"] >= 0.95


def test_normalize_keeps_offsets() -> None:
    text = "Қаскелеңде ЁЛКА Qaskeleñ — İstanbul\u00a0ß"
    assert len(normalize(text)) == len(text)
    assert normalize("Қаскелең") == normalize("Каскелен") == "каскелен"
    assert normalize("Qaskeleñ") == "kaskelen"


def test_span_points_into_the_original_text(gazetteer: Gazetteer) -> None:
    text = "Видео: 🤬 драка в Қаскелеңдегі 12-мектепте!"
    matches = gazetteer.match(text)
    school, town = matches[0], matches[1]
    assert text[slice(*town.span)] == "Қаскелеңдегі"
    assert text[slice(*school.span)] == "12-мектепте"
    assert (school.town, school.school) == ("Kaskelen", "School No. 12")


def test_matches_are_best_first_and_unique(gazetteer: Gazetteer) -> None:
    text = "Алматинская область, Карасайский район, Каскелен, школа №5. Каскелен снова в новостях"
    got = [(m.region, m.district, m.town, m.school) for m in gazetteer.match(text)]
    assert got == [
        ("Almaty Region", "Karasai", "Kaskelen", "School No. 5"),
        ("Almaty Region", "Karasai", "Kaskelen", None),
        ("Almaty Region", "Karasai", None, None),
        ("Almaty Region", None, None, None),
    ]


def test_long_post_lists_each_place_once(gazetteer: Gazetteer) -> None:
    text = "В Каскелене в школе №12 драка. Или нет? Есік. Школа №5 имени Абая. " * 3000
    got = [(m.town, m.school, m.span[0]) for m in gazetteer.match(text)]
    assert got == [("Kaskelen", "School No. 12", 14), ("Kaskelen", "School No. 5", 46), ("Kaskelen", None, 2)]


def test_capital_in_mid_sentence_is_less_sure_than_a_town_word(gazetteer: Gazetteer) -> None:
    [capital] = gazetteer.match("Вчера в Есике подрались школьники")
    [with_word] = gazetteer.match("Вчера в г. Есик подрались школьники")
    assert capital.town == with_word.town == "Esik"
    assert capital.confidence < with_word.confidence


def test_only_configured_regions_are_reported() -> None:
    city_only = Gazetteer.load(PlacesSettings(regions=("Almaty City",)))
    assert city_only.match("В Каскелене избили школьника") == []
    assert [m.region for m in city_only.match("В Алматы избили школьника")] == ["Almaty City"]
    # A school placed in an unwatched region goes too; one placed nowhere stays, with no region.
    assert city_only.match("Каскелен, школа №3") == []
    assert [(m.region, m.school) for m in city_only.match("Школа №3")] == [(None, "School No. 3")]


def test_unknown_region_in_settings_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Almaty Oblast"):
        Gazetteer.load(PlacesSettings(regions=("Almaty Oblast",)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Драка в школе, ученики сняли видео", True),
        ("Мектеп оқушылары төбелесті", True),
        ("Oqushylar mektepte tóbelesti", True),
        ("A teacher slapped a pupil", True),
        ("Подростки избили мужчину у магазина", True),
        ("СОШ 12 закрыта на карантин", True),
        ("Фестиваль уличной еды в Алматы", False),
        ("Борьба за качество продукции", False),
        ("Қазақ күресінен турнир өтті", False),
        ("Weather in Taldykorgan: rain", False),
    ],
)
def test_education_context(gazetteer: Gazetteer, text: str, expected: bool) -> None:
    assert gazetteer.has_education_context(text) is expected


@pytest.mark.parametrize(
    ("text", "school"),
    [
        ("школа №12", "School No. 12"),
        ("СОШ 12", "School No. 12"),
        ("школа-гимназия №159", "School-Gymnasium No. 159"),
        ("№12 мектеп", "School No. 12"),
        ("12-мектеп", "School No. 12"),
        ("№3 мектеп-лицей", "School-Lyceum No. 3"),
        ("мектеп-интернат №2", "Boarding School No. 2"),
        ("НИШ", "NIS"),
        ("school No. 7", "School No. 7"),
        ("гимназия им. Ильяса Жансугурова", "School named after Ильяса Жансугурова"),
        ("Ілияс Жансүгіров атындағы мектеп", "School named after Ілияс Жансүгіров"),
        ("школа №5 имени Абая", "School No. 5"),
    ],
)
def test_school_patterns(gazetteer: Gazetteer, text: str, school: str) -> None:
    assert [m.school for m in gazetteer.match(text)] == [school]


@pytest.mark.parametrize("text", ["в школе 5 учеников", "school 7 students", "в 2024 году школа", "ниша в стене"])
def test_not_a_school_number(gazetteer: Gazetteer, text: str) -> None:
    assert [m.school for m in gazetteer.match(text)] == []


def test_known_schools_file(tmp_path: Path) -> None:
    path = tmp_path / "schools.csv"
    path.write_text(
        "region,district,town,school,aliases\n"
        "Almaty Region,Karasai,Kaskelen,School No. 7,\n"
        "Zhetysu Region,Taldykorgan,Taldykorgan,School-Lyceum No. 1,Талдыкорганский лицей Дарын|Дарын лицейі\n",
        encoding="utf-8",
    )
    gazetteer = Gazetteer.load(PlacesSettings(schools_file=str(path)))
    [first, *_] = gazetteer.match("Карасайский район, школа №7: драка")
    assert (first.district, first.town, first.school, first.confidence) == ("Karasai", "Kaskelen", "School No. 7", 0.95)
    [lyceum] = gazetteer.match("Дарын лицейінде оқушы ұрылды")
    assert (lyceum.region, lyceum.town, lyceum.school) == ("Zhetysu Region", "Taldykorgan", "School-Lyceum No. 1")


def test_bad_known_schools_file(tmp_path: Path) -> None:
    path = tmp_path / "schools.csv"
    path.write_text("region,district,town,school,aliases\n,Karasai,Kaskelen,,x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        Gazetteer.load(PlacesSettings(schools_file=str(path)))
    with pytest.raises(ConfigError, match="cannot read"):
        Gazetteer.load(PlacesSettings(schools_file=str(tmp_path / "missing.csv")))


def test_bad_gazetteer_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[place]]\nregion = "Almaty Region"\nnmes = ["Каскелен"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.toml: place\[0\]: unknown key nmes"):
        load_place_file(path)
    path.write_text('[[place]]\nregion = "Almaty Region"\nnames = "Каскелен"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="list of non-empty strings"):
        load_place_file(path)


def _monitor(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args], check=False,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_monitor_match_json(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[places]\nregions = ["Almaty Region", "Zhetysu Region"]\n', encoding="utf-8")
    result = _monitor("match", "--json", "Драка в школе №12 в Каскелене", config=config)
    assert result.returncode == 0, result.stderr
    [school, town] = json.loads(result.stdout)
    assert school == {"region": "Almaty Region", "district": "Karasai", "town": "Kaskelen",
                      "school": "School No. 12", "span": [8, 17], "confidence": 0.9}
    assert town["span"] == [20, 29] and town["school"] is None
    result = _monitor("match", "--json", "Кофе или чай", config=config)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_monitor_match_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[places]\nregions = ["Narnia"]\n', encoding="utf-8")
    result = _monitor("match", "Каскелен", config=config)
    assert result.returncode == 2
    assert "Narnia" in result.stderr and "Traceback" not in result.stderr
