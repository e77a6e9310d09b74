"""The vocabulary is spelled once (core/vocab.py) and the database refuses anything else."""

from __future__ import annotations

import re
from itertools import permutations
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from monitor.core.db import transaction
from monitor.core.vocab import CATEGORIES, DISMISS_REASONS, ROLES, SEVERITIES, STATUSES, Role, role_at_least
from tests.helpers import make_items, make_user

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "monitor" / "core" / "vocab.py"
GROUPS = {"status": STATUSES, "role": ROLES, "severity": SEVERITIES, "category": CATEGORIES,
          "dismiss reason": DISMISS_REASONS}


def _sources() -> list[Path]:
    files = [p for d in ("monitor", "models", "scrapers") for p in (ROOT / d).rglob("*.py")]
    return [p for p in files if p != VOCAB and "migrations" not in p.parts]


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_no_group_is_spelled_outside_vocab(group: str) -> None:
    """Values of one group written side by side in a literal are a group defined again."""
    values = [v.value for v in GROUPS[group]]
    # "high", "medium" also name YouTube thumbnail sizes: severities need three in a row to count.
    run = 3 if group == "severity" else 2
    pairs = [re.compile(r"\s*,\s*".join(rf"""["']{re.escape(v)}["']""" for v in combo))
             for combo in permutations(values, run)]
    found = [f"{path.relative_to(ROOT)}:{n}" for path in _sources()
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(p.search(line) for p in pairs)]
    assert found == [], f"{group} values listed outside monitor/core/vocab.py: {found}"


def test_roles_rank_and_unknown_roles_are_never_enough() -> None:
    assert role_at_least("admin", Role.MODERATOR) and not role_at_least("viewer", Role.MODERATOR)
    assert not role_at_least("root", Role.VIEWER)


@pytest.mark.parametrize(("table", "column", "value"), [
    ("queue_item", "status", "archived"),
    ("queue_item", "severity", "urgent"),
    ("user", "role", "superuser"),
])
def test_the_database_refuses_values_outside_the_vocabulary(sessions, table: str, column: str, value: str) -> None:
    make_items(sessions, 1)
    make_user(sessions)
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        quoted = '"user"' if table == "user" else table
        session.execute(sa.text(f"UPDATE {quoted} SET {column} = :v"), {"v": value})
