"""Source discovery: what posts point at, ranking, exclusions, decisions (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import select

import monitor.core.db
from monitor.cli import _register, cli
from monitor.core.config import Settings, SourceSettings
from monitor.core.errors import InputError
from monitor.core.posts import Post
from monitor.core.tables import AuditEvent
from monitor.ingest.discovery import PostView, Reference, decide, references, suggest
from monitor.ingest.pipeline import Pipeline
from tests.fakes import KeywordClassifier, TablePlaces

NOW = datetime.now(UTC).replace(microsecond=0)


def view(text: str, platform: str = "telegram", external_id: str = "own_channel/1", author: str | None = None,
         **extras: Any) -> PostView:
    return PostView(1, platform, external_id, author, text, extras, None, NOW)


def test_references() -> None:
    refs = references(view(
        "Пишите в t.me/Zhest_Taldykorgan_test или https://telegram.me/s/podslushano_99/123, "
        "@anon_school_bot, почта a@mail.kz, instagram.com/zhest_ig_test/ и https://www.tiktok.com/@tt_fights_test "
        "а также t.me/joinchat/abc и https://t.me/own_channel/5 и instagram.com/p/C1VidBbbbb2/",
        forwarded_from={"name": "Жесть", "url": "https://t.me/fwd_source_test/77"},
        links=["https://t.me/linked_only_test"]))
    assert refs == {
        Reference("telegram", "fwd_source_test", "forwarded"),
        Reference("telegram", "zhest_taldykorgan_test", "link"),
        Reference("telegram", "podslushano_99", "link"),
        Reference("telegram", "linked_only_test", "link"),
        Reference("telegram", "anon_school_bot", "mention"),
        Reference("instagram", "zhest_ig_test", "link"),
        Reference("tiktok", "tt_fights_test", "link"),
    }
    # A bare @name belongs to the platform it was written on; the account's own name is no suggestion.
    assert references(view("@other_page_test смотрите @my_page", "instagram", "C1", "my_page")) == {
        Reference("instagram", "other_page_test", "mention")}
    assert references(view("@someone_here", "news", "n1")) == set()
    # A link or a mention at the end of a sentence.
    assert references(view("Видео тут: t.me/zhest_konaev_test. Автор @konaev_admin.")) == {
        Reference("telegram", "zhest_konaev_test", "link"), Reference("telegram", "konaev_admin", "mention")}
    assert references(view("@tt_friend_test", "video", "tiktok:1", "me", site="TikTok")) == {
        Reference("tiktok", "tt_friend_test", "mention")}


def post(i: int, text: str, days_ago: float = 1, channel: str = "zhetysu_news_test", **extras: Any) -> Post:
    return Post(platform="telegram", external_id=f"{channel}/{i}", url=f"https://t.me/{channel}/{i}", text=text,
                published_at=NOW - timedelta(days=days_ago), author=channel, extras=extras)


FWD = {"name": "Жесть Талдыкорган", "url": "https://t.me/zhest_taldykorgan_test/10"}


@pytest.fixture
def stored(sessions, settings: Settings) -> Settings:
    posts = [
        # Forwarded from one channel three times, all flagged (no place named).
        post(1, "Драка у школы, ученика избили", forwarded_from=FWD),
        post(2, "Опять травля в классе, школа молчит", forwarded_from=FWD),
        post(3, "Видео: драка на перемене в школе", forwarded_from=FWD),
        # Mentioned once, in a flagged post placed in a watched region.
        post(4, "В Талгаре школьника избили, подробности у @mentioned_once_test"),
        # Not flagged: forwards and links of calm posts suggest nothing.
        post(5, "Школьная олимпиада, поздравляем", forwarded_from={"name": "q", "url": "https://t.me/quiet_test"}),
        # Flagged, but pointing at its own channel, a configured source and an old post.
        post(6, "Драка в школе, пишите в t.me/zhetysu_news_test и t.me/tengrinews"),
        post(7, "Драка в школе, старое: t.me/too_old_test", days_ago=400),
        # Instagram page linked from two flagged posts, one of them local.
        post(8, "Травля в школе: страница instagram.com/zhest_ig_test"),
        post(9, "Драка в Талгаре, школа 5, видео на instagram.com/zhest_ig_test/"),
    ]
    watched = settings.model_copy(update={"sources": (
        SourceSettings(name="tengri", platform="telegram", target="tengrinews"),)})
    result = Pipeline(sessions, watched, classifier=KeywordClassifier(), places=TablePlaces()).ingest(posts)
    assert result.new == 9
    return watched


def test_ranking_forwarded_channel_above_one_mentioned_once(sessions, stored: Settings) -> None:
    found = suggest(sessions, stored)
    table = [(c.platform, c.handle, c.flagged_posts, c.forwarded, c.local_posts, c.score) for c in found]
    assert table == [
        ("telegram", "zhest_taldykorgan_test", 3, 3, 0, 4.5),
        ("instagram", "zhest_ig_test", 2, 0, 1, 2.5),
        ("telegram", "mentioned_once_test", 1, 0, 1, 1.5),
    ]
    assert len(found[0].post_ids) == 3 and found[0].url == "https://t.me/s/zhest_taldykorgan_test"
    assert "too_old_test" in {c.handle for c in suggest(sessions, stored, days=3650)}
    assert [c.handle for c in suggest(sessions, stored, min_posts=2)] == ["zhest_taldykorgan_test", "zhest_ig_test"]


def test_decisions_are_audited_and_leave_the_list(sessions, stored: Settings) -> None:
    added = decide(sessions, "telegram", "@Zhest_Taldykorgan_test", "added", actor="admin", score=4.5,
                   flagged_posts=3)
    assert (added.status, added.handle, added.decided_by) == ("added", "zhest_taldykorgan_test", "admin")
    decide(sessions, "instagram", "zhest_ig_test", "dismissed", actor="admin")
    assert [c.handle for c in suggest(sessions, stored)] == ["mentioned_once_test"]
    assert len(suggest(sessions, stored, include_decided=True)) == 3
    # Deciding the same way again changes nothing and writes no second event.
    decide(sessions, "telegram", "zhest_taldykorgan_test", "added", actor="admin2")
    with sessions() as s:
        events = list(s.exec(select(AuditEvent).where(AuditEvent.entity_type == "source_suggestion")
                             .order_by(AuditEvent.id)))
    assert [e.action for e in events] == ["source_suggestion.add", "source_suggestion.dismiss"]
    assert 'target = "zhest_taldykorgan_test"' in events[0].detail["config"]
    assert "enabled = false" in events[0].detail["config"]
    with pytest.raises(InputError, match="unknown platform"):
        decide(sessions, "myspace", "x_y_z", "added", actor="admin")
    with pytest.raises(InputError, match="not a channel"):
        decide(sessions, "telegram", "bad name!", "added", actor="admin")


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Engine]]:
    """Engines the CLI opens in-process, disposed afterwards (a real CLI process just exits)."""
    made: list[Engine] = []
    real = monitor.core.db.create_db_engine

    def tracked(*args: Any, **kwargs: Any) -> Engine:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(monitor.core.db, "create_db_engine", tracked)
    yield made
    for engine in made:
        engine.dispose()


def test_cli_suggest_add_dismiss(sessions, stored: Settings, tmp_path: Path, engines: list[Engine]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{stored.database.url}"\n[[sources]]\nname = "tengri"\n'
                      'platform = "telegram"\ntarget = "tengrinews"\n', encoding="utf-8")
    _register()
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "sources", "suggest", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # The CLI reads names with the real gazetteer: the forwarded channel's name is "Жесть Талдыкорган".
    assert [(r["rank"], r["handle"], r["place"], r["score"]) for r in rows] == [
        (1, "zhest_taldykorgan_test", "Taldykorgan", 5.5), (2, "zhest_ig_test", None, 2.5),
        (3, "mentioned_once_test", None, 1.5)]
    added = runner.invoke(cli, ["--config", str(config), "sources", "add", "instagram", "zhest_ig_test"])
    assert added.exit_code == 0 and 'platform = "instagram"\ntarget = "@zhest_ig_test"' in added.stdout
    dismissed = runner.invoke(cli, ["--config", str(config), "sources", "dismiss", "telegram", "mentioned_once_test"])
    assert dismissed.exit_code == 0
    text = runner.invoke(cli, ["--config", str(config), "sources", "suggest"])
    assert text.exit_code == 0 and text.stdout.split()[:3] == ["1", "5.5", "telegram"]
    assert text.stdout.rstrip().endswith("place Taldykorgan")
    assert len(text.stdout.splitlines()) == 1
    assert engines


def test_a_watched_place_in_the_name_counts(settings: Settings) -> None:
    from monitor.core.places.gazetteer import Gazetteer
    from monitor.ingest.discovery import rank

    posts = [PostView(1, "telegram", "news_test/1", None, "Драка: t.me/zhest_konaev_test и t.me/fights_world_test",
                      {}, None, NOW),
             PostView(2, "telegram", "news_test/2", None, "Жесть", {"forwarded_from": {
                 "name": "Подслушано Талдыкорган", "url": "https://t.me/podslushano_xyz_test"}}, None, NOW)]
    found = rank(posts, regions=settings.places.regions, places=Gazetteer.load(settings.places))
    table = [(c.handle, c.place, c.score) for c in found]
    assert table == [("podslushano_xyz_test", "Taldykorgan", 2.5), ("zhest_konaev_test", "Konaev", 2.0),
                     ("fights_world_test", None, 1.0)]
    assert found[0].names == ["Подслушано Талдыкорган"]
    # Without a gazetteer names count nothing.
    assert [c.place for c in rank(posts)] == [None, None, None]
