"""Assemble models/data/train.jsonl and dev.jsonl from the hand-written fragments in fragments/.

Run: .venv/bin/python -m models.data.build [--out DIR]. Deterministic (fixed seed).

Every fragment, table row and noise choice is assigned to exactly one split before anything is
combined, so dev shares no hand-written wording with train (see the model card, "Training data").
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.data.translit import to_latin
from monitor.core.vocab import CATEGORIES

DATA_DIR = Path(__file__).resolve().parent
FRAGMENT_DIR = DATA_DIR / "fragments"
GROUPS = ("ru", "kk", "en", "mixed", "translit")
SPLITS = ("train", "dev")
SEED = 20261129
# Uses of each core fragment in its own language (negatives a little more, towards a 50/50 split);
# translit/mixed re-uses come on top.
USES_PER_CORE = {"pos": 4, "neg": 5}
# One round-up post per this many core lines of a group (half with one incident among ordinary news).
LINES_PER_DIGEST = 8
SLOT = re.compile(r"\{([a-z_]+)\.([a-z_]+)\}")


@dataclass
class Section:
    """One `@kind tags...` block of a fragment file."""

    role: str  # core | detail | follow | open | close
    tags: tuple[str, ...]
    lines: list[str] = field(default_factory=list)


@dataclass
class Table:
    """Slot values: one row per place/school/etc., one column per grammatical form."""

    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, str]] = field(default_factory=list)


def in_dev(index: int, count: int) -> bool:
    """Whether the index-th line of a block of `count` lines belongs to dev (about one in five)."""
    return index % 5 == 3 or (count < 4 and index == count - 1 and count > 1)


def parse_file(path: Path, split: str) -> tuple[list[Section], list[Table]]:
    """Parse one fragment file, keeping only the lines of `split`."""
    sections: list[Section] = []
    tables: list[Table] = []
    blocks: list[tuple[str, list[str]]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            blocks.append((line[1:], []))
        elif not blocks:
            raise ValueError(f"{path.name}: text before the first @header: {line!r}")
        else:
            blocks[-1][1].append(line)
    for header, lines in blocks:
        role, *tags = header.split()
        kept = [ln for i, ln in enumerate(lines) if in_dev(i, len(lines)) == (split == "dev")]
        if role == "table":
            name, cols = tags[0], tuple(c.strip() for c in " ".join(tags[1:]).split("|"))
            table = Table(name, cols)
            for ln in kept:
                cells = [c.strip() for c in ln.split("|")]
                if len(cells) != len(cols):
                    raise ValueError(f"{path.name}: table {name}: {len(cells)} cells in {ln!r}")
                table.rows.append(dict(zip(cols, cells, strict=True)))
            tables.append(table)
        elif role in {"core", "detail", "follow", "open", "close"}:
            labels = tags[1:] if role == "core" else [t[1:] for t in tags if t.startswith("+")]
            unknown = [t for t in labels if t not in CATEGORIES]
            if unknown:
                raise ValueError(f"{path.name}: @{header}: unknown categories {unknown}")
            sections.append(Section(role, tuple(tags), kept))
        else:
            raise ValueError(f"{path.name}: unknown block @{role}")
    return sections, tables


@dataclass
class Pool:
    """All fragments of one language group in one split."""

    group: str
    sections: list[Section]

    def cores(self) -> list[Section]:
        """Core blocks: the first tag is the kind, the rest the categories (none = negative)."""
        return [s for s in self.sections if s.role == "core" and s.lines]

    def pick(self, rng: random.Random, role: str, kind: str, cats: Iterable[str]) -> Section | None:
        """A block of `role` compatible with a core of `kind` with categories `cats`."""
        flag = "pos" if cats else "neg"
        wanted = {kind, flag, "any", *cats}
        if role == "detail":
            # A detail names one compatible kind or category first, then +categories it adds.
            found = [s for s in self.sections if s.role == role and s.lines and s.tags[0] in wanted]
        else:
            found = [s for s in self.sections if s.role == role and s.lines and wanted & set(s.tags)]
        return rng.choice(found) if found else None


def fill(text: str, tables: dict[str, Table], chosen: dict[str, dict[str, str]], rng: random.Random) -> str:
    """Replace {table.column} slots; one row per table per text so forms agree."""

    def sub(m: re.Match[str]) -> str:
        name, col = m.group(1), m.group(2)
        if name not in tables or not tables[name].rows:
            raise ValueError(f"no rows for slot {m.group(0)}")
        if name not in chosen:
            chosen[name] = rng.choice(tables[name].rows)
        return chosen[name][col]

    return SLOT.sub(sub, text)


def _capitalize(text: str) -> str:
    """Upper-case the first letter of a fragment that starts with a slot ("в Талгаре ...")."""
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def noisy(text: str, rng: random.Random) -> str:
    """Social-media surface noise: lower case, dropped punctuation, a typo or two."""
    r = rng.random()
    if r < 0.12:
        text = text.lower()
    elif r < 0.2:
        text = re.sub(r"[.,;:«»\"]", "", text)
    if rng.random() < 0.12:
        words = text.split(" ")
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 4 and w.isalpha():
                j = rng.randrange(1, len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
        text = " ".join(words)
    return text


def compose(
    rng: random.Random, core_pool: Pool, tail_pool: Pool, core: Section, tables: dict[str, Table]
) -> tuple[str, list[str]] | None:
    """One post: optional opener, the core, optional details and follow-up, optional closer.

    None when `tail_pool` is another language's and has no follow-up for this kind of post.
    """
    kind, cats = core.tags[0], list(core.tags[1:])
    parts = [rng.choice(core.lines)]
    # First-person posts take only tails written for their voice, not news-style details.
    voice = {"parent_post": "parent_post", "victim_post": "victim_post", "chat": "parent_post"}.get(kind)
    detail = None if voice else core_pool.pick(rng, "detail", kind, cats)
    # News reports run longer than channel posts: sometimes two details.
    for chance in (0.4, 0.15):
        if detail and rng.random() < chance:
            line = rng.choice(detail.lines)
            if line not in parts:
                parts.append(line)
                cats.extend(t[1:] for t in detail.tags[1:] if t.startswith("+") and t[1:] not in cats)
        detail = None if voice else core_pool.pick(rng, "detail", kind, cats)
    follow = tail_pool.pick(rng, "follow", voice or kind, [] if voice else cats)
    if tail_pool is not core_pool:
        # A code-switched post always carries a sentence from the other language.
        if follow is None:
            return None
        parts.append(rng.choice(follow.lines))
    elif follow and rng.random() < 0.45:
        parts.append(rng.choice(follow.lines))
        # Agency reports stack official responses and background: sometimes a second follow-up.
        second = None if voice else tail_pool.pick(rng, "follow", kind, cats)
        extra = rng.choice(second.lines) if second and rng.random() < 0.3 else None
        if extra and extra not in parts:
            parts.append(extra)
    opener = None if voice else core_pool.pick(rng, "open", kind, cats)
    if opener and rng.random() < 0.25:
        parts.insert(0, rng.choice(opener.lines))
    closer = tail_pool.pick(rng, "close", kind, cats)
    if closer and rng.random() < 0.3:
        parts.append(rng.choice(closer.lines))
    chosen: dict[str, dict[str, str]] = {}
    # Channel posts often put the opener, body and sign-off on lines of their own.
    sep = "\n\n" if len(parts) > 2 and rng.random() < 0.25 else " "
    text = sep.join(_capitalize(fill(p, tables, chosen, rng)) for p in parts)
    return noisy(text, rng), sorted(cats, key=CATEGORIES.index)


def compose_digest(
    rng: random.Random, pool: Pool, tables: dict[str, Table], with_incident: bool
) -> tuple[str, list[str]] | None:
    """A channel's round-up: 2-4 numbered items under a header; at most one of them an incident.

    One incident sentence in a long, otherwise ordinary post must still flag it.
    """
    headers = [sec for sec in pool.sections if sec.role == "open" and "digest" in sec.tags and sec.lines]
    header = rng.choice(headers) if headers else None
    cores = [c for c in pool.cores() if c.tags[0] not in {"chat", "parent_post", "victim_post"}]
    negatives = [c for c in cores if not c.tags[1:]]
    positives = [c for c in cores if c.tags[1:]]
    if header is None or not negatives or not positives:
        return None
    items = [rng.choice(negatives) for _ in range(rng.randint(1, 3))]
    items.insert(rng.randrange(len(items) + 1), rng.choice(positives if with_incident else negatives))
    cats = sorted({c for core in items for c in core.tags[1:]}, key=CATEGORIES.index)
    lines = [
        f"{i}. " + _capitalize(fill(rng.choice(c.lines), tables, {}, rng)) for i, c in enumerate(items, 1)
    ]
    sep = "\n" if rng.random() < 0.5 else " "
    return noisy(sep.join([rng.choice(header.lines), *lines]), rng), cats


def build_split(split: str) -> list[dict[str, Any]]:
    """All examples of one split, shuffled, with ids."""
    rng = random.Random(f"{SEED}-{split}")
    pools: dict[str, Pool] = {}
    tables: dict[str, Table] = {}
    for group in (*GROUPS, "places"):
        path = FRAGMENT_DIR / f"{group}.txt"
        if not path.exists():
            continue
        sections, tabs = parse_file(path, split)
        tables.update({t.name: t for t in tabs})
        if group != "places":
            pools[group] = Pool(group, sections)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []

    def add(post: tuple[str, list[str]] | None, lang: str, kind: str) -> None:
        if post is None:
            return
        text, cats = post
        text = re.sub(r"[^\S\n]+", " ", text).strip()
        key = re.sub(r"\W+", " ", text.lower()).strip()
        if key in seen or not key:
            return
        seen.add(key)
        rows.append({"text": text, "lang": lang, "flag": int(bool(cats)), "categories": cats, "kind": kind})

    for group, pool in pools.items():
        for core in pool.cores():
            # A generator per block: adding fragments elsewhere leaves this block's posts as they were.
            crng = random.Random(f"{SEED}-{split}-{group}-{' '.join(core.tags)}-{core.lines[0]}")
            for _ in range(USES_PER_CORE["pos" if core.tags[1:] else "neg"] * len(core.lines)):
                add(compose(crng, pool, pool, core, tables), group, core.tags[0])
            if group in {"ru", "kk"}:
                # Latin-script posts: the same content as people type it without Cyrillic (the encoder
                # reads these worst, so they get as many examples as a core's lines).
                for _ in range(len(core.lines)):
                    post = compose(crng, pool, pool, core, tables)
                    add(post and (to_latin(post[0], group, crng), post[1]), "translit", core.tags[0])
                # Code-switching between sentences: a Russian core with a Kazakh tail or back.
                other = pools.get("kk" if group == "ru" else "ru")
                for _ in range(max(1, len(core.lines) // 3) if other is not None else 0):
                    add(compose(crng, pool, other or pool, core, tables), "mixed", core.tags[0])
        drng = random.Random(f"{SEED}-{split}-{group}-digest")
        for i in range(sum(len(c.lines) for c in pool.cores()) // LINES_PER_DIGEST):
            add(compose_digest(drng, pool, tables, with_incident=i % 2 == 0), group, "digest")
    rng.shuffle(rows)
    prefix = "tr" if split == "train" else "dv"
    return [{"id": f"{prefix}-{i:05d}", **row} for i, row in enumerate(rows, 1)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write one JSON object per line, UTF-8, no ASCII escaping."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def stats_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: examples per language, positives/negatives and per category."""
    head = ["lang", "total", "flag=1", "flag=0", *CATEGORIES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lang in (*GROUPS, "all"):
        sel = [r for r in rows if lang in {"all", r["lang"]}]
        pos = sum(1 for r in sel if r["flag"])
        cats = [sum(1 for r in sel if c in r["categories"]) for c in CATEGORIES]
        lines.append("| " + " | ".join(map(str, [lang, len(sel), pos, len(sel) - pos, *cats])) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Build train.jsonl and dev.jsonl into --out (default: this directory)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--stats", action="store_true", help="also print per-language/category tables")
    args = parser.parse_args(argv)
    for split in SPLITS:
        rows = build_split(split)
        write_jsonl(args.out / f"{split}.jsonl", rows)
        pos = sum(1 for r in rows if r["flag"])
        print(f"{split}: {len(rows)} examples, {pos} positive")
        if args.stats:
            print(stats_table(rows) + "\n")


if __name__ == "__main__":
    main()
