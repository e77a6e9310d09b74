"""Incident grouping through the real pipeline: repost chains, ru <-> kk rewrites, two fights kept apart, split."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import PlacesSettings, Settings
from monitor.core.errors import InputError, NotFound, QueueError
from monitor.core.places.gazetteer import Gazetteer
from monitor.core.posts import Media, Post
from monitor.core.tables import AuditEvent, Incident, QueueItem
from monitor.core.tables import Post as PostRow
from monitor.ingest.incidents.match import numbers_conflict, text_similarity, text_tokens
from monitor.ingest.incidents.store import assign_incident, split_incident
from monitor.ingest.pipeline import Pipeline
from monitor.review.users import create_user
from tests.fakes import KeywordClassifier

T0 = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)

FIGHT_RU = "В Каскелене в школе №12 девятиклассники избили одноклассника, видео разошлось по соцсетям."
FIGHT_KK = "Қаскелеңдегі №12 мектепте 9-сынып оқушылары сыныптасын ұрып-соқты, видео әлеуметтік желіде тарады."
OTHER_FIGHT_RU = ("В школе №12 Каскелена после уроков в раздевалке произошла драка между тремя девочками из 7 класса, "
                  "вызвали полицию.")
OTHER_FIGHT_KK = ("Қаскелеңдегі №12 мектепте сабақтан кейін 7-сыныптың үш қызы киім ауыстыратын бөлмеде төбелесті, "
                  "полиция шақырылды.")


class StoryEmbedder:
    """A fake encoder: texts of one story get nearly the same unit vector, unrelated texts a random one.

    `similar` stories share most of their vector too (cosine about 0.93): the encoder cannot tell two
    fights at one school apart, so the grouping has to.
    """

    def __init__(self, stories: dict[str, str], similar: Sequence[set[str]] = ()) -> None:
        self.stories = stories
        self.similar = similar
        self.calls = 0

    def _unit(self, seed: str) -> np.ndarray:
        rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
        v = rng.normal(size=64)
        return v / np.linalg.norm(v)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = []
        for text in texts:
            story = self.stories.get(text, text)
            group = next((min(g) for g in self.similar if story in g), story)
            v = 0.965 * self._unit(group) + 0.26 * self._unit(story) + 0.01 * self._unit(text)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)


def post(n: int, text: str, *, minutes: int = 0, channel: str = "chan", media: tuple[Media, ...] = (),
         extras: dict[str, object] | None = None) -> Post:
    """A synthetic Telegram post."""
    return Post(platform="telegram", external_id=f"{channel}/{n}", url=f"https://t.me/{channel}/{n}", text=text,
                published_at=T0 + timedelta(minutes=minutes), author=channel, media=media, extras=extras or {})


def pipeline(sessions: sessionmaker[Session], settings: Settings, embed: StoryEmbedder | None = None) -> Pipeline:
    """The real pipeline with the real gazetteer and the keyword classifier."""
    return Pipeline(sessions, settings, classifier=KeywordClassifier(), places=Gazetteer.load(settings.places),
                    embed=embed)


def incidents_of(sessions: sessionmaker[Session]) -> dict[str, int]:
    """external_id -> incident id of every stored post."""
    with sessions() as s:
        return {p.external_id: p.incident_id for p in s.exec(select(PostRow))}


def items(sessions: sessionmaker[Session]) -> list[QueueItem]:
    with sessions() as s:
        return list(s.exec(select(QueueItem).order_by(QueueItem.id)))


def test_text_signals() -> None:
    a = text_tokens("😱😱 В Каскелене избили школьника! Видео: https://t.me/x/1 #Каскелен #буллинг @news")
    b = text_tokens("В Каскелене избили школьника! Видео:")
    assert a == b
    assert text_similarity(text_tokens("Ужас! Смотрите, что пишут: " + FIGHT_RU), text_tokens(FIGHT_RU)) == 1.0
    assert text_similarity(text_tokens(FIGHT_RU), text_tokens(OTHER_FIGHT_RU)) < 0.3
    assert numbers_conflict(text_tokens(FIGHT_KK), text_tokens(OTHER_FIGHT_RU))
    assert not numbers_conflict(text_tokens(FIGHT_RU), text_tokens(FIGHT_KK))


def test_repost_chain_with_emoji_and_hashtags_is_one_incident(sessions: sessionmaker[Session],
                                                            settings: Settings) -> None:
    chain = [
        post(1, FIGHT_RU, channel="news_a"),
        post(2, "😡😡😡 " + FIGHT_RU + " #Каскелен #буллинг #школа", minutes=25, channel="news_b"),
        post(3, "Ужас! Смотрите, что пишут: " + FIGHT_RU.upper(), minutes=70, channel="news_c"),
        post(4, FIGHT_RU.replace(",", " —") + " 👉 подписывайтесь https://t.me/news_d", minutes=130, channel="news_d"),
    ]
    p = pipeline(sessions, settings)
    p.ingest(chain[:2])
    p.ingest(chain[2:])
    groups = incidents_of(sessions)
    assert len(set(groups.values())) == 1 and None not in groups.values()
    [item] = items(sessions)
    assert item.post_count == 4 and (item.district, item.school) == ("Karasai", "School No. 12")


def test_same_video_forward_and_link_join_the_incident(sessions: sessionmaker[Session], settings: Settings) -> None:
    video = Media("video", "https://cdn.example/fight-12.mp4", thumbnail_url="https://cdn.example/fight-12.jpg")
    thumb_only = Media("photo", "https://cdn.example/fight-12.jpg")
    p = pipeline(sessions, settings)
    p.ingest([post(1, "Драка в школе, видео", media=(video,), channel="a")])
    p.ingest([
        post(2, "Снова драка, школьники избили друг друга", minutes=10, channel="b", media=(thumb_only,)),
        post(3, "Избили ученика, подробности по ссылке", minutes=20, channel="c",
             extras={"forwarded_from": {"name": "a", "url": "https://t.me/a/1"}}),
        post(4, "Драка у школы: наш комментарий https://t.me/s/a/1", minutes=30, channel="d",
             extras={"links": ["https://t.me/s/a/1"]}),
    ])
    assert len(set(incidents_of(sessions).values())) == 1
    assert [i.post_count for i in items(sessions)] == [4]


def test_kk_rewrite_of_a_ru_post_joins_by_embedding(sessions: sessionmaker[Session], settings: Settings) -> None:
    embed = StoryEmbedder({FIGHT_RU: "boys", FIGHT_KK: "boys", OTHER_FIGHT_RU: "girls", OTHER_FIGHT_KK: "girls"},
                          similar=[{"boys", "girls"}])
    p = pipeline(sessions, settings, embed)
    p.ingest([post(1, FIGHT_RU)])
    p.ingest([post(2, FIGHT_KK, minutes=40, channel="kz")])
    groups = incidents_of(sessions)
    assert groups["chan/1"] == groups["kz/2"]
    with sessions() as s:
        assert all(r.embedding is not None for r in s.exec(select(PostRow)))


def test_two_fights_at_one_school_on_one_day_stay_apart(sessions: sessionmaker[Session], settings: Settings) -> None:
    # The fake encoder scores the two stories 0.93 alike (as a real one would): words and numbers decide.
    embed = StoryEmbedder({FIGHT_RU: "boys", FIGHT_KK: "boys", OTHER_FIGHT_RU: "girls", OTHER_FIGHT_KK: "girls"},
                          similar=[{"boys", "girls"}])
    p = pipeline(sessions, settings, embed)
    p.ingest([post(1, FIGHT_RU, minutes=0)])
    p.ingest([post(2, OTHER_FIGHT_RU, minutes=300, channel="b")])
    p.ingest([post(3, OTHER_FIGHT_KK, minutes=320, channel="kz")])
    p.ingest([post(4, FIGHT_KK, minutes=340, channel="kz")])
    groups = incidents_of(sessions)
    assert groups["chan/1"] != groups["b/2"]
    assert groups["b/2"] == groups["kz/3"]
    assert groups["chan/1"] == groups["kz/4"]
    assert sorted(i.post_count for i in items(sessions)) == [2, 2]


def test_similar_embedding_with_other_numbers_stays_apart(sessions: sessionmaker[Session],
                                                         settings: Settings) -> None:
    # 9th-graders' fight (kk) against 7th-grade girls' fight (ru): the encoder says 0.93, the numbers say no.
    embed = StoryEmbedder({FIGHT_KK: "boys", OTHER_FIGHT_RU: "girls"}, similar=[{"boys", "girls"}])
    p = pipeline(sessions, settings, embed)
    p.ingest([post(1, OTHER_FIGHT_RU)])
    p.ingest([post(2, FIGHT_KK, minutes=10, channel="kz")])
    groups = incidents_of(sessions)
    assert groups["chan/1"] != groups["kz/2"]
    assert embed.calls == 0  # the numbers decide before the encoder is asked


def test_other_place_or_later_than_the_window_is_a_new_incident(sessions: sessionmaker[Session],
                                                                settings: Settings) -> None:
    settings = settings.model_copy(update={"places": PlacesSettings(incident_window_h=24)})
    p = pipeline(sessions, settings)
    p.ingest([post(1, "В Талгаре избили школьника, видео в сети")])
    p.ingest([post(2, "В Каскелене избили школьника, видео в сети", minutes=30, channel="b")])
    p.ingest([post(3, "В Талгаре избили школьника, видео в сети", minutes=30 * 60, channel="c")])
    p.ingest([post(4, "В Талгаре избили школьника, видео в сети!", minutes=5, channel="d")])
    groups = incidents_of(sessions)
    assert len({groups["chan/1"], groups["b/2"], groups["c/3"]}) == 3
    assert groups["d/4"] == groups["chan/1"]


def test_assign_incident_is_idempotent(sessions: sessionmaker[Session], settings: Settings) -> None:
    pipeline(sessions, settings).ingest([post(1, FIGHT_RU)])
    with sessions() as s, s.begin():
        row = s.exec(select(PostRow)).one()
        first = row.incident_id
        assert assign_incident(s, row, settings=settings).id == first
        assert len(list(s.exec(select(Incident)))) == 1


def _three_post_item(sessions: sessionmaker[Session], settings: Settings) -> tuple[QueueItem, list[int]]:
    video = Media("video", "https://cdn.example/v.mp4")
    pipeline(sessions, settings).ingest([
        post(1, FIGHT_RU, media=(video,)),
        post(2, "Драка в Талгаре у школы, избили ученика, угрожали нож", minutes=5, channel="b", media=(video,)),
        post(3, "Ещё видео драки, избили ученика", minutes=9, channel="c", media=(video,)),
    ])
    [item] = items(sessions)
    with sessions() as s:
        ids = [r.id for r in s.exec(select(PostRow).order_by(PostRow.id))]
    return item, ids  # type: ignore[return-value]


def test_split_moves_posts_to_a_new_item(sessions: sessionmaker[Session], settings: Settings) -> None:
    item, ids = _three_post_item(sessions, settings)
    mod = create_user(sessions, "mod", "moderator", "correct horse")
    assert item.post_count == 3
    new = split_incident(sessions, mod, item.id, [ids[1], ids[2]])
    with sessions() as s:
        old, moved = s.get(QueueItem, item.id), s.get(QueueItem, new.id)
        assert old is not None and moved is not None
        assert (old.post_count, moved.post_count, moved.status) == (1, 2, "new")
        assert moved.incident_id != old.incident_id
        assert moved.severity == "critical" and moved.post_id == ids[1]  # the knife post leads
        assert (moved.district, moved.school) == ("Talgar", None)
        incident = s.get(Incident, moved.incident_id)
        assert incident is not None and incident.split_from_id == old.incident_id
        by_post = {r.id: r.incident_id for r in s.exec(select(PostRow))}
        assert by_post[ids[0]] == old.incident_id and by_post[ids[1]] == by_post[ids[2]] == moved.incident_id
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "incident.split")).all()
        assert (event.actor, event.entity_id, event.detail["post_ids"]) == ("mod", new.id, [ids[1], ids[2]])


def test_split_refuses_bad_requests(sessions: sessionmaker[Session], settings: Settings) -> None:
    item, ids = _three_post_item(sessions, settings)
    mod = create_user(sessions, "mod", "moderator", "correct horse")
    viewer = create_user(sessions, "viewer", "viewer", "correct horse")
    with pytest.raises(QueueError, match="viewer"):
        split_incident(sessions, viewer, item.id, [ids[0]])
    with pytest.raises(InputError, match="at least one post"):
        split_incident(sessions, mod, item.id, ids)
    with pytest.raises(InputError, match="not in the incident"):
        split_incident(sessions, mod, item.id, [ids[0], 999_999])
    with pytest.raises(InputError):
        split_incident(sessions, mod, item.id, [])
    with pytest.raises(NotFound):
        split_incident(sessions, mod, 424_242, [ids[0]])
    with sessions() as s:
        assert s.get(QueueItem, item.id).post_count == 3  # type: ignore[union-attr]
        assert len(list(s.exec(select(QueueItem)))) == 1


def test_split_inside_the_callers_session(sessions: sessionmaker[Session], settings: Settings) -> None:
    item, ids = _three_post_item(sessions, settings)
    mod = create_user(sessions, "mod", "moderator", "correct horse")
    with sessions() as s:
        s.begin()
        new = split_incident(s, mod, item.id, [ids[0]])
        assert new.id is not None and len(list(s.exec(select(QueueItem)))) == 2
        s.rollback()
    assert len(items(sessions)) == 1  # the caller's rollback undoes the split


@pytest.mark.slow
@pytest.mark.model
def test_real_encoder_groups_ru_kk_rewrites_and_keeps_two_fights_apart(sessions: sessionmaker[Session],
                                                                     settings: Settings) -> None:
    from models.encoder import load_encoder

    encoder = load_encoder(settings.classifier)
    p = pipeline(sessions, settings)
    p.embed = encoder.embed
    p.ingest([post(1, FIGHT_RU)])
    p.ingest([post(2, FIGHT_KK, minutes=40, channel="kz")])
    p.ingest([post(3, OTHER_FIGHT_RU, minutes=300, channel="b")])
    p.ingest([post(4, OTHER_FIGHT_KK, minutes=320, channel="kz")])
    groups = incidents_of(sessions)
    assert groups["chan/1"] == groups["kz/2"]
    assert groups["b/3"] == groups["kz/4"]
    assert groups["chan/1"] != groups["b/3"]


def test_one_batch_spanning_days_groups_by_window(sessions: sessionmaker[Session], settings: Settings) -> None:
    # One transaction, posts days apart (out of order): the grouping index widens as it goes.
    text = "В Талгаре избили школьника, видео в сети"
    pipeline(sessions, settings).ingest([
        post(1, text, minutes=100 * 60), post(2, text, channel="b"), post(3, text + "!!", minutes=101 * 60, channel="c"),
        post(4, "😡 " + text, minutes=-50 * 60, channel="d"), post(5, text, minutes=10, channel="e"),
    ])
    groups = incidents_of(sessions)
    assert groups["chan/1"] == groups["c/3"]
    assert groups["b/2"] == groups["e/5"] == groups["d/4"]
    assert groups["chan/1"] != groups["b/2"]
