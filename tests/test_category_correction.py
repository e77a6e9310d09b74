"""Moderators correct an item's categories (issue 14, learning from moderators), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from models.dataset import from_decisions
from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.errors import InputError, QueueError
from monitor.core.tables import AuditEvent, QueueItem
from monitor.core.tables import Post as PostRow
from monitor.ingest.incidents.corrections import merge_items
from monitor.ingest.incidents.store import split_incident
from monitor.review.categories import correct_categories, most_specific_first
from monitor.review.claims import claim
from monitor.review.queue import decide, reopen
from tests.helpers import make_items, make_user
from tests.test_grouping import TALGAR_KK, TALGAR_RU, _item_of, _similar_embedder
from tests.test_incidents import pipeline, post


def _get(sessions: sessionmaker[Session], item_id: int) -> QueueItem:
    with sessions() as s:
        item = s.get(QueueItem, item_id)
        assert item is not None
        return item


def test_most_specific_first_follows_the_primary_order() -> None:
    assert most_specific_first(["physical_violence", "bullying", "teacher_misconduct", "bullying", "x"]) == [
        "teacher_misconduct", "bullying", "physical_violence"]


def test_a_correction_sets_the_set_and_the_most_specific_primary_and_is_audited(
        sessions: sessionmaker[Session]) -> None:
    (item_id,) = make_items(sessions, 1)
    mod = make_user(sessions)
    item = correct_categories(sessions, mod, item_id, ["physical_violence", "teacher_misconduct"])
    assert item.category == "teacher_misconduct"
    assert item.categories == ["teacher_misconduct", "physical_violence"]
    stored = _get(sessions, item_id)
    assert (stored.category, stored.categories, stored.category_corrected_by) == (
        "teacher_misconduct", ["teacher_misconduct", "physical_violence"], "mod")
    assert stored.category_corrected_at is not None
    correct_categories(sessions, mod, item_id, ["bullying"])
    with sessions() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "queue.categories")
                        .order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    assert [(e.actor, e.entity_id, e.detail["before"], e.detail["after"], e.detail["category"]) for e in events] == [
        ("mod", item_id, [], ["teacher_misconduct", "physical_violence"], "teacher_misconduct"),
        ("mod", item_id, ["teacher_misconduct", "physical_violence"], ["bullying"], "bullying"),
    ]


def test_only_deciders_correct_known_categories_on_items_they_may_touch(sessions: sessionmaker[Session]) -> None:
    first, second = make_items(sessions, 2)
    mod, other, viewer = make_user(sessions), make_user(sessions, "bob"), make_user(sessions, "v", "viewer")
    with pytest.raises(QueueError, match="viewer"):
        correct_categories(sessions, viewer, first, ["bullying"])
    with pytest.raises(InputError, match="unknown category"):
        correct_categories(sessions, mod, first, ["bullying", "vandalism"])
    with pytest.raises(InputError, match="at least one"):
        correct_categories(sessions, mod, first, [])
    claim(sessions, other, first)
    with pytest.raises(QueueError, match="claimed by bob"):
        correct_categories(sessions, mod, first, ["bullying"])
    assert _get(sessions, first).category_corrected_by is None
    # A decided item can still be corrected: that is what training learns from.
    decide(sessions, mod, second, "confirmed")
    assert correct_categories(sessions, mod, second, ["extortion"]).status == "confirmed"


def test_a_merged_item_is_refused_and_a_corrected_target_keeps_its_categories(
        sessions: sessionmaker[Session]) -> None:
    target, other, third = make_items(sessions, 3)
    mod = make_user(sessions)
    with transaction(sessions) as s:
        for item_id, cats in ((other, ["sexual_misconduct"]), (third, ["cyberbullying", "bullying"])):
            row = s.get(QueueItem, item_id)
            assert row is not None
            row.categories, row.category = cats, cats[0]
            s.add(row)
    correct_categories(sessions, mod, target, ["physical_violence"])
    merge_items(sessions, mod, target, [other])
    kept = _get(sessions, target)
    assert (kept.category, kept.categories, kept.category_corrected_by) == ("physical_violence",
                                                                            ["physical_violence"], "mod")
    with pytest.raises(QueueError, match="merged into item"):
        correct_categories(sessions, mod, other, ["bullying"])
    # An uncorrected target takes the union, most specific first, and its primary follows.
    (plain,) = make_items(sessions, 1)
    with transaction(sessions) as s:
        row = s.get(QueueItem, plain)
        assert row is not None
        row.categories, row.category = ["physical_violence"], "physical_violence"
        s.add(row)
    merge_items(sessions, mod, plain, [third])
    joined = _get(sessions, plain)
    assert (joined.category, joined.categories) == ("cyberbullying", ["cyberbullying", "bullying",
                                                                      "physical_violence"])


def test_a_correction_survives_new_posts_and_a_split_and_feeds_training(sessions: sessionmaker[Session],
                                                                         settings: Settings) -> None:
    p = pipeline(sessions, settings, _similar_embedder(TALGAR_RU, TALGAR_KK))
    p.ingest([post(1, TALGAR_RU)])
    mod = make_user(sessions)
    item = _item_of(sessions, "chan/1")
    machine = list(item.categories)
    correct_categories(sessions, mod, item.id or 0, ["teacher_misconduct", "physical_violence"])
    decide(sessions, mod, item.id or 0, "confirmed")
    # The same event in Kazakh joins the corrected item: the moderator's categories stay.
    p.ingest([post(2, TALGAR_KK, minutes=60, channel="kz")])
    p.requeue()
    after = _item_of(sessions, "kz/2")
    assert after.id == item.id and after.post_count == 2 and after.categories != machine
    assert (after.category, after.categories, after.category_corrected_by) == (
        "teacher_misconduct", ["teacher_misconduct", "physical_violence"], "mod")
    (example,) = from_decisions(sessions)
    assert (example.flag, example.categories) == (1, ("teacher_misconduct", "physical_violence"))
    assert after.status == "confirmed"
    # Split the Kazakh post off again: the new item carries the moderator's categories too.
    with sessions() as s:
        moved = s.exec(select(PostRow).where(PostRow.external_id == "kz/2")).one()
    reopen(sessions, mod, item.id or 0)
    new_item = split_incident(sessions, mod, item.id or 0, [moved.id or 0])
    assert (new_item.categories, new_item.category_corrected_by) == (["teacher_misconduct", "physical_violence"],
                                                                     "mod")


def test_cli_set_category(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from monitor.core.config import DatabaseSettings
    from monitor.core.db import create_db_engine, session_factory, upgrade
    from monitor.review.users import create_user
    from tests.test_cli import monitor
    from tests.web.conftest import add_item

    url = f"sqlite:///{tmp_path}/m.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    engine = create_db_engine(DatabaseSettings(url=url))
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        item_id = add_item(s, 1, "Учитель ударил ученика школы №5", district="Talgar")
    create_user(sessions, "aigul", "moderator", "long enough password")
    create_user(sessions, "vera", "viewer", "long enough password")
    engine.dispose()
    assert monitor("queue", "set-category", str(item_id), "bullying", "--as", "vera", config=config).returncode == 1
    bad = monitor("queue", "set-category", str(item_id), "vandalism", "--as", "aigul", config=config)
    assert bad.returncode == 2 and "vandalism" in bad.stderr
    done = monitor("queue", "set-category", str(item_id), "physical_violence", "teacher_misconduct", "--as", "aigul",
                   config=config)
    assert done.returncode == 0, done.stderr
    assert "category teacher_misconduct (categories: teacher_misconduct, physical_violence)" in done.stdout
    shown = monitor("queue", "show", str(item_id), config=config).stdout
    assert "categories corrected by aigul at" in shown and "queue.categories" in shown
