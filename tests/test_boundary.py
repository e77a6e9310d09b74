"""Issue 11: every bad input line a clear `line N: reason`, the rest stored, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.boundary import clamp_shift, in_zone, post_problem
from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.posts import Post, content_key, post_from_record, read_jsonl
from monitor.core.tables import Post as PostRow
from monitor.ingest.pipeline import Pipeline
from tests.fakes import KeywordClassifier
from tests.test_cli import monitor

SECRET = "Секретный текст про ребёнка Айгерим"  # must never appear on stderr
GOOD = {"platform": "instagram", "url": "https://instagram.com/p/x", "text": f"{SECRET}: в школе травля",
        "author": "Автор Секретов", "published_at": "2026-11-02T10:00:00+05:00"}
EDGE_DATES = ["9999-12-31T23:59:59+05:00", "0001-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00",
              "0001-01-01T00:00:00+05:00", "1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z"]


def bad_lines() -> list[tuple[str, str]]:
    """(raw JSON line, expected start of the reason) for every bad kind the issue names."""
    g = {**GOOD, "external_id": "bad"}
    out = [
        (json.dumps({**g, "text": f"{SECRET}\u0000"}), "text contains a NUL"),
        (json.dumps({**g, "author": "a\u0000b"}), "author contains a NUL"),
        (json.dumps({**g, "external_id": "id\u0000"}), "external_id contains a NUL"),
        (json.dumps({**g, "platform": "p" * 41}), "platform is longer than 40"),
        (json.dumps({**g, "external_id": "e" * 301}), "external_id is longer than 300"),
        (json.dumps({**g, "author": "a" * 301}), "author is longer than 300"),
        (json.dumps({**g, "views": float("nan")}), "extras.views is not a finite number"),
        (json.dumps({**g, "stats": {"x": [float("inf")]}}), "extras.stats.x[0] is not a finite number"),
        (json.dumps({**g, "text": "\ud800"}, ensure_ascii=True), "text contains a lone surrogate"),
        ('{"deep": ' + "[" * 100_000 + "]" * 100_000 + "}", "not JSON: nested too deep"),
        (json.dumps({**g, "nest": json.loads("[" * 40 + "]" * 40)}), "extras is nested deeper than"),
        (json.dumps({**g, "platform": "   "}), "platform is empty"),
        (json.dumps({**g, "external_id": " \t "}), "external_id is empty"),
    ]
    out += [(json.dumps({**g, "published_at": d}), "") for d in EDGE_DATES]
    return out


def test_every_bad_kind_is_refused_with_a_reason_not_content() -> None:
    for raw, reason in bad_lines():
        [(_, result)] = list(read_jsonl([raw.encode()]))
        assert isinstance(result, str), raw[:80]
        assert result.startswith(reason), (result, reason)
        assert SECRET not in result


@pytest.mark.parametrize("value", EDGE_DATES)
def test_edge_dates_are_refused_naming_the_accepted_range(value: str) -> None:
    with pytest.raises(ValueError, match="2000-01-01"):
        post_from_record({**GOOD, "external_id": "e", "published_at": value})


def test_dates_inside_the_range_pass() -> None:
    now = datetime.now(UTC)
    for value in ("2000-01-01T00:00:00Z", (now + timedelta(hours=23)).isoformat()):
        post_from_record({**GOOD, "external_id": "e", "published_at": value})


def test_saturating_helpers_never_raise() -> None:
    top = datetime.max.replace(tzinfo=UTC)
    assert clamp_shift(top, timedelta(hours=72)) == top
    assert clamp_shift(datetime.min.replace(tzinfo=UTC), -timedelta(hours=72)).year == 1
    from zoneinfo import ZoneInfo
    assert in_zone(top, ZoneInfo("Asia/Almaty")) == top


def test_mixed_3000_line_file_stores_every_good_line(settings: Settings, tmp_path: Path,
                                                     sessions: sessionmaker[Session]) -> None:
    bad = bad_lines()
    lines: list[str] = []
    bad_at: dict[int, str] = {}
    for i in range(3000):
        lines.append(json.dumps({**GOOD, "external_id": f"good-{i}"}, ensure_ascii=False))
        if i == 1200:  # the bad kinds sit in the middle of the file
            for raw, reason in bad:
                lines.append(raw)
                bad_at[len(lines)] = reason
    data = tmp_path / "mixed.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{settings.database.url}"\n', encoding="utf-8")
    result = monitor("ingest", "--no-classify", str(data), config=config)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and SECRET not in result.stderr and "Секретов" not in result.stderr
    reported = result.stderr.strip().splitlines()
    assert len(reported) == len(bad_at)
    for line, (line_no, reason) in zip(reported, sorted(bad_at.items()), strict=True):
        assert line.startswith(f"{data}:line {line_no}: {reason}"), (line, reason)
    assert "new 3000," in result.stdout and f"skipped {len(bad_at)}" in result.stdout
    with sessions() as session:
        stored = session.execute(sa.select(sa.func.count()).select_from(PostRow)).scalar_one()
    assert stored == 3000


def test_scraper_output_meets_the_same_validator(settings: Settings, sessions: sessionmaker[Session]) -> None:
    pipeline = Pipeline(sessions, settings)
    now = datetime.now(UTC)
    good = Post("telegram", "chan/1", "https://t.me/chan/1", "текст", now)
    bad = [Post("telegram", "chan/2", "https://t.me/chan/2", "a\x00b", now),
           Post("telegram", "chan/3", "https://t.me/chan/3", "x", now, extras={"views": float("nan")}),
           Post("telegram", "chan/4", "https://t.me/chan/4", "x", datetime(1990, 1, 1, tzinfo=UTC)),
           Post("telegram", "c" * 301, "https://t.me/chan/5", "x", now)]
    result = pipeline.ingest([bad[0], good, *bad[1:]])
    assert (result.new, result.skipped) == (1, 4)


def test_classify_backlog_is_total_on_stored_edge_dates(settings: Settings, sessions: sessionmaker[Session]) -> None:
    # Rows stored before the boundary existed (or by hand) keep working: the backlog job must not raise.
    with transaction(sessions) as session:
        for i, when in enumerate((datetime.max.replace(tzinfo=UTC) - timedelta(seconds=1),
                                  datetime(1, 1, 1, 0, 0, tzinfo=UTC))):
            text = f"Драка в школе, ученика избили {i}"
            session.add(PostRow(platform="import", external_id=f"edge-{i}", url=f"https://x.example/{i}",
                                text=text, published_at=when, content_key=content_key(text, "u")))
    pipeline = Pipeline(sessions, settings, classifier=KeywordClassifier())
    assert pipeline.classify_backlog() == 2
    assert pipeline.classify_backlog() == 0


@settings(max_examples=50, deadline=None)
@given(record=st.dictionaries(
    st.sampled_from(["platform", "external_id", "url", "text", "published_at", "author", "media", "views", "x"]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
                 max_leaves=20)))
def test_line_validator_gives_a_post_or_a_reason(record: dict[str, object]) -> None:
    merged = {**GOOD, "external_id": "h", **record}
    raw = json.dumps(merged, ensure_ascii=True, allow_nan=True).encode()
    [(_, result)] = list(read_jsonl([raw]))
    if isinstance(result, Post):
        assert post_problem(result) is None
    else:
        assert isinstance(result, str) and result


def test_database_errors_never_carry_post_text(engine: sa.engine.Engine) -> None:
    # The engine hides bound parameters: a failing insert names the statement, never the row's values.
    row = {"platform": "x", "external_id": "1", "url": "https://x.example", "text": SECRET, "author": "Автор Секретов",
           "language": "ru", "published_at": datetime(2026, 1, 1, tzinfo=UTC), "collected_at": datetime.now(UTC),
           "updated_at": datetime.now(UTC), "media": [], "extras": {}, "has_video": False, "content_key": None,
           "places": [], "has_education_context": True}
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(sa.insert(PostRow.__table__), [row])  # type: ignore[attr-defined]
    assert SECRET not in str(caught.value) and "Секретов" not in str(caught.value)
    assert "parameters hidden" in str(caught.value)
