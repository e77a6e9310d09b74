"""Gazetteer throughput (short posts through `match`) and precision/recall on the hand-written cases.

python -m bench.match [--posts 50000] [--cases tests/fixtures/places/cases.tsv]   (JSON summary last)

Also scores tests/fixtures/places/holdout.tsv (cases written after the matcher was tuned) as holdout_*.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from monitor.core.config import PlacesSettings
from monitor.core.places.gazetteer import Gazetteer

CASES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "places" / "cases.tsv"
HOLDOUT = CASES.with_name("holdout.tsv")

# Short posts like the channels': most name no place of ours, some a town, a district or a school.
OPENERS = ["Срочно!", "Жуткое видео:", "Родители возмущены:", "Сегодня утром", "Ата-аналар наразы:",
           "Breaking:", "Оқиға:", "Видео из сети:", "Новости региона.", ""]
BODIES = [
    "в школе №{n} {place} ученики избили одноклассника, видео разошлось по соцсетям",
    "{place} {n}-мектептің оқушылары үзілісте төбелесті, мұғалімдер араласпады",
    "учительница кричала на детей, {place} родители написали жалобу в акимат",
    "teenagers filmed a fight near school No. {n} in {place} and posted it online",
    "погода на выходные: дожди и похолодание, ветер до {n} м/с",
    "в магазине подорожали продукты, очередь или давка у кассы",
    "футбол: команда выиграла со счётом {n}:1, болельщики довольны",
    "есікті жауып кетті, ішке ешкім кірмеді, сағат {n}-де",
]
PLACES = ["в Каскелене", "в Талгарском районе", "Қарасай ауданында", "в г. Конаев", "Taldykorgan",
          "Есік қаласындағы", "в Алматы", "Жаркентте", "в Узынагаше", "Qaskeleñde", "", "", "", ""]


def synthetic_posts(n: int, seed: int = 5) -> list[str]:
    """n distinct short posts (about 60-140 characters), deterministic for a seed."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(OPENERS)} {rng.choice(BODIES).format(n=rng.randint(1, 199), place=rng.choice(PLACES))} #{i}"
        for i in range(n)
    ]


@dataclass(frozen=True)
class Case:
    """One hand-written case: language, text, expected best match (None for a look-alike negative)."""

    language: str
    text: str
    expected: tuple[str | None, str | None, str | None, str | None] | None


def load_cases(path: Path = CASES) -> list[Case]:
    """The cases file: language TAB text TAB region|district|town|school (or "-")."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, text, expected = line.split("\t")
        if expected == "-":
            out.append(Case(language, text, None))
        else:
            region, district, town, school = (p or None for p in expected.split("|"))
            out.append(Case(language, text, (region, district, town, school)))
    return out


def best(gazetteer: Gazetteer, text: str) -> tuple[str | None, str | None, str | None, str | None] | None:
    """The best match's (region, district, town, school), or None when no place of ours is found."""
    matches = [m for m in gazetteer.match(text) if m.region]
    if not matches:
        return None
    m = matches[0]
    return (m.region, m.district, m.town, m.school)


def evaluate(gazetteer: Gazetteer, cases: list[Case]) -> dict[str, float]:
    """Precision and recall of the best match: a wrong place counts as a false positive and a miss."""
    tp = fp = fn = tn = 0
    for case in cases:
        got = best(gazetteer, case.text)
        if case.expected is None:
            fp, tn = (fp + 1, tn) if got is not None else (fp, tn + 1)
        elif got == case.expected:
            tp += 1
        else:
            fn += 1
            fp += got is not None
    return {
        "cases": len(cases), "negatives": sum(c.expected is None for c in cases), "tp": tp, "fp": fp, "fn": fn,
        "tn": tn, "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
    }


def main() -> None:
    """Time `match` over synthetic short posts, then score the cases file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--cases", type=Path, default=CASES)
    args = parser.parse_args()
    started = time.perf_counter()
    gazetteer = Gazetteer.load(PlacesSettings())
    load_s = time.perf_counter() - started
    posts = synthetic_posts(args.posts)
    found = 0
    started = time.perf_counter()
    for text in posts:
        found += bool(gazetteer.match(text))
    elapsed = time.perf_counter() - started
    summary: dict[str, object] = {
        "posts": len(posts), "avg_chars": round(sum(map(len, posts)) / len(posts), 1),
        "seconds": round(elapsed, 3), "posts_per_s": round(len(posts) / elapsed), "with_place": found,
        "load_s": round(load_s, 3),
    }
    # One long post (1 MB, a place, a school and a look-alike in every sentence) must stay linear.
    long_post = "В Каскелене в школе №12 драка. Или нет? Есік. Школа №5 имени Абая. " * 15_000
    started = time.perf_counter()
    gazetteer.match(long_post)
    summary |= {"long_post_chars": len(long_post), "long_post_s": round(time.perf_counter() - started, 3)}
    if args.cases.exists():
        summary |= evaluate(gazetteer, load_cases(args.cases))
    if HOLDOUT.exists():  # written after tuning, never tuned on
        summary |= {f"holdout_{k}": v for k, v in evaluate(gazetteer, load_cases(HOLDOUT)).items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
