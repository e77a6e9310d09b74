"""Checks of the classifier's training and dev data in models/data/."""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from models.data import build
from models.data.translit import to_latin

DATA = Path(build.__file__).resolve().parent
LANGS = {"ru", "kk", "en", "mixed", "translit"}
HARD_NEGATIVE_KINDS = {
    "sports",
    "metaphor",
    "non_school_fight",
    "fiction",
    "campaign",
    "school_news",
    "policy_stats",
}
KAZAKH_LETTERS = re.compile("[әғқңөұүһі]", re.IGNORECASE)
CYRILLIC = re.compile("[\u0400-\u04ff]")


def load(name: str) -> list[dict[str, Any]]:
    """Read one split."""
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def train() -> list[dict[str, Any]]:
    return load("train")


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return load("dev")


def test_schema(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for prefix, rows in (("tr", train), ("dv", dev)):
        for row in rows:
            assert set(row) == {"id", "text", "lang", "flag", "categories", "kind"}, row
            assert re.fullmatch(rf"{prefix}-\d{{5}}", str(row["id"])), row["id"]
            assert isinstance(row["text"], str) and row["text"].strip(), row
            assert row["lang"] in LANGS, row
            assert row["flag"] in (0, 1), row
            cats = row["categories"]
            assert isinstance(cats, list) and len(set(cats)) == len(cats), row
            assert set(cats) <= set(build.CATEGORIES), row
            assert isinstance(row["kind"], str) and re.fullmatch(r"[a-z_]+", row["kind"]), row
    ids = [r["id"] for r in train + dev]
    assert len(ids) == len(set(ids))


def test_flag_iff_categories(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for row in train + dev:
        assert row["flag"] == int(bool(row["categories"])), row


def test_sizes_and_balance(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    total = len(train) + len(dev)
    assert total >= 3000
    assert 0.15 <= len(dev) / total <= 0.25
    for rows in (train, dev):
        negative = sum(1 for r in rows if r["flag"] == 0) / len(rows)
        assert 0.4 <= negative <= 0.6, negative


def test_category_language_coverage(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for rows, minimum in ((train, 10), (dev, 2)):
        counts: Counter[tuple[str, str]] = Counter()
        for row in rows:
            for cat in row["categories"]:
                counts[(str(row["lang"]), cat)] += 1
        missing = [(lang, cat) for lang in LANGS for cat in build.CATEGORIES if counts[(lang, cat)] < minimum]
        assert not missing, missing


def test_hard_negatives_in_every_language(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for rows, minimum in ((train, 5), (dev, 1)):
        kinds: Counter[tuple[str, str]] = Counter(
            (str(r["lang"]), str(r["kind"])) for r in rows if not r["flag"]
        )
        missing = [
            (lang, k)
            for lang in ("ru", "kk", "en")
            for k in HARD_NEGATIVE_KINDS
            if kinds[(lang, k)] < minimum
        ]
        assert not missing, missing


def test_scripts_match_languages(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    rows = train + dev
    for row in rows:
        if row["lang"] in {"en", "translit"}:
            assert not CYRILLIC.search(str(row["text"])), row
    # A Latin letter typed inside a Cyrillic word (or back) is a typo a tokenizer sees as noise.
    for row in rows:
        for word in re.findall(r"[^\W\d_]+", str(row["text"])):
            assert not (CYRILLIC.search(word) and re.search("[a-zA-Z]", word)), (word, row)
    # Code-switched posts carry words found only in the Russian fragments and words found only in
    # the Kazakh ones (or Latin-script words).
    vocab = {
        g: set(re.findall(r"\w+", (build.FRAGMENT_DIR / f"{g}.txt").read_text(encoding="utf-8").lower()))
        for g in ("ru", "kk")
    }
    only_ru, only_kk = vocab["ru"] - vocab["kk"], vocab["kk"] - vocab["ru"]
    mixed = [set(re.findall(r"\w+", str(r["text"]).lower())) for r in rows if r["lang"] == "mixed"]
    both = [w for w in mixed if w & only_kk and (w & only_ru or any(re.fullmatch("[a-z]{3,}", x) for x in w))]
    assert len(both) / len(mixed) > 0.95, [sorted(w) for w in mixed if w not in both][:3]
    kazakh = [r for r in rows if r["lang"] == "kk"]
    with_letters = sum(1 for r in kazakh if KAZAKH_LETTERS.search(str(r["text"])))
    assert with_letters / len(kazakh) > 0.9


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    # One Latin spelling for every script, so a transliterated copy counts as a copy.
    words = _normal(to_latin(text, "ru", random.Random(0))).split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def test_no_duplicates_within_splits(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    for rows in (train, dev):
        texts = [_normal(str(r["text"])) for r in rows]
        assert len(texts) == len(set(texts))


def test_dev_not_near_duplicated_in_train(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    index: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for i, row in enumerate(train):
        for sh in _shingles(str(row["text"])):
            index[sh].add(i)
    offenders = []
    for row in dev:
        shingles = _shingles(str(row["text"]))
        hits: Counter[int] = Counter()
        for sh in shingles:
            hits.update(index.get(sh, ()))
        best = max(hits.values(), default=0) / len(shingles)
        if best >= 0.5:
            offenders.append((row["id"], round(best, 2), row["text"]))
    assert not offenders, offenders[:5]


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _normal(to_latin(text, "ru", random.Random(0))).split() if len(w) > 2)


def test_dev_not_paraphrased_from_train(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    # Word-set overlap catches a reworded or re-ordered copy that 4-grams miss.
    train_words = [_words(str(r["text"])) for r in train]
    index: dict[str, list[int]] = defaultdict(list)
    for i, words in enumerate(train_words):
        for w in words:
            index[w].append(i)
    offenders = []
    for row in dev:
        words = _words(str(row["text"]))
        shared: Counter[int] = Counter()
        for w in words:
            shared.update(index.get(w, ()))
        for i, n in shared.items():
            if n / len(words | train_words[i]) >= 0.5:
                offenders.append((row["text"], train[i]["text"]))
                break
    assert not offenders, offenders[:5]


def test_fragments_belong_to_one_split() -> None:
    seen: dict[str, set[str]] = {}
    for path in sorted(build.FRAGMENT_DIR.glob("*.txt")):
        for split in build.SPLITS:
            sections, _ = build.parse_file(path, split)
            for line in (ln for s in sections for ln in s.lines):
                seen.setdefault(f"{path.name}:{line}", set()).add(split)
    shared = [key for key, splits in seen.items() if len(splits) > 1]
    assert not shared, shared[:5]


def test_files_are_what_the_generator_builds(tmp_path: Path) -> None:
    build.main(["--out", str(tmp_path)])
    for split in build.SPLITS:
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (DATA / f"{split}.jsonl").read_bytes(), (
            f"{split}.jsonl is stale: run .venv/bin/python -m models.data.build"
        )


def test_kinds_are_documented(train: list[dict[str, Any]], dev: list[dict[str, Any]]) -> None:
    card = (DATA.parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    section = card[card.index("## Training data") :]
    undocumented = {str(r["kind"]) for r in train + dev} - set(re.findall(r"`([a-z_]+)`", section))
    assert not undocumented, undocumented
