"""Issue 12: event matching with evidence, nothing hidden in decided items, merge/reopen, corrections, routing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import DatabaseSettings, PlacesSettings, Settings
from monitor.core.errors import InputError, QueueError
from monitor.core.places.gazetteer import ALL_REGIONS, Gazetteer
from monitor.core.tables import (
    Alert,
    AuditEvent,
    Classification,
    Decision,
    GroupingCorrection,
    Incident,
    QueueItem,
)
from monitor.core.tables import Post as PostRow
from monitor.ingest.incidents.corrections import correction_pairs, merge_items
from monitor.ingest.incidents.evaluate import Labelled, score_pairs, to_report
from monitor.ingest.incidents.evidence import Report, Rules, decide, facts_of
from monitor.ingest.incidents.match import shingles, text_tokens
from monitor.ingest.incidents.store import split_incident
from monitor.notify.digest import collect
from monitor.review.queue import QueueFilter, list_items, reopen
from monitor.review.queue import decide as decide_item
from monitor.review.users import create_user
from tests.test_incidents import StoryEmbedder, incidents_of, pipeline, post

T0 = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)

KONAEV_THREAT = "В Конаеве ученик школы №3 угрожал одноклассникам: написал в чате, что завтра придёт с ножом."
KONAEV_BEATING = "В Конаеве у школы №3 старшеклассники избили девятиклассника после уроков, он в больнице."
TALGAR_RU = "В Талгаре в школе №5 семиклассники избили одноклассника на перемене, видео разошлось по чатам."
TALGAR_KK = "Талғардағы №5 мектепте 7-сынып оқушылары сыныптасын үзілісте ұрып-соқты, видео чаттарда тарады."


def _report(n: int, text: str, *, hours: float = 0, vector: np.ndarray | None = None,
            places: tuple[tuple[str | None, str | None, str | None], ...] = (), **kw: object) -> Report:
    return Report(id=n, published_at=T0 + timedelta(hours=hours), url=f"https://t.me/c/{n}",
                  shingles=shingles(text_tokens(text)), places=places, facts=facts_of(text), embedding=vector,
                  **kw)  # type: ignore[arg-type]


def _unit(seed: int, near: np.ndarray | None = None, weight: float = 0.0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=32)
    v /= np.linalg.norm(v)
    if near is not None:
        v = weight * near + (1 - weight) * v
        v /= np.linalg.norm(v)
    return v.astype(np.float32)


KASKELEN = (("Almaty Region", "Karasai", "Kaskelen"),)


# -- the pure decider -------------------------------------------------------------------------------

def test_facts_in_three_languages() -> None:
    ru = facts_of("В Петропавловске девятиклассник напал с топором на учеников школы №4 13 февраля.")
    kk = facts_of("Петропавлдағы №4 орта мектепте 9-сынып оқушысы балтамен шабуыл жасады, 13 ақпан.")
    en = facts_of("A ninth-grade student attacked pupils of school No. 4 with an axe on February 13.")
    for f in (ru, kk, en):
        assert f.schools == {4} and f.grades == {9} and f.weapons == {"axe"} and f.dates == {(2, 13)}
        assert "physical" in f.kinds
    assert facts_of("15-летний подросток").ages == {15}
    assert facts_of("учитель ударил ученика").teacher


def test_rewrite_with_agreeing_details_joins_by_meaning() -> None:
    base = _unit(1)
    a = _report(1, "В Каскелене в школе №12 девятиклассники избили одноклассника.", vector=base, places=KASKELEN)
    b = _report(2, "Kaskelen school No. 12: ninth-graders beat up a classmate.", hours=3,
                vector=_unit(2, base, 0.9), places=KASKELEN)
    join = decide(a, b)
    assert join is not None and join.reason == "semantic"
    assert "school 12" in join.agreed and "grade 9" in join.agreed
    assert "school 12" in join.explain(1) and "post 1" in join.explain(1)


def test_place_alone_or_kind_alone_never_joins() -> None:
    base = _unit(3)
    a = _report(1, "В Каскелене драка у школы, подростки подрались.", vector=base, places=KASKELEN)
    b = _report(2, "В Каскелене подростки подрались возле торгового центра.", hours=1, vector=_unit(4, base, 0.95),
                places=KASKELEN)
    assert decide(a, b) is None  # same town, same kind, very similar meaning: no detail names this event
    c = _report(3, "Драка школьников, видео в сети.", vector=base)
    d = _report(4, "Школьники подрались, видео в сети.", hours=1, vector=_unit(5, base, 0.97))
    assert decide(c, d) is None


def test_disagreeing_details_block_every_join_but_a_shared_link() -> None:
    base = _unit(6)
    strong = _unit(7, base, 0.98)
    fight = "В Каскелене в школе №12 девятиклассники избили одноклассника."
    for other in ("В Каскелене в школе №14 девятиклассники избили одноклассника.",  # another school
                  "В Каскелене в школе №12 семиклассники избили одноклассника.",  # another grade
                  "В Каскелене ученику школы №12 позвонили и угрожали, девятиклассник напуган."):  # a threat
        assert decide(_report(1, fight, vector=base, places=KASKELEN),
                      _report(2, other, hours=1, vector=strong, places=KASKELEN)) is None, other
    knife = _report(1, "В Талгаре в школе №5 ученик напал с ножом на девятиклассника.", vector=base)
    axe = _report(2, "В Талгаре в школе №5 ученик напал с топором на девятиклассника.", hours=1, vector=strong)
    assert decide(knife, axe) is None
    linked = _report(3, "В Талгаре в школе №5 ученик напал с топором.", hours=1, refs=frozenset({knife.url}))
    join = decide(knife, linked)
    assert join is not None and join.reason == "link"
    media = _report(4, "видео", hours=200, media=frozenset({"cdn/x.mp4"}))
    assert decide(_report(5, "другое", media=frozenset({"cdn/x.mp4"})), media) is not None


def test_other_region_blocks_and_time_window_applies() -> None:
    base = _unit(8)
    a = _report(1, "Школа №4: девятиклассник с топором.", vector=base, places=(("North Kazakhstan Region", None, "Petropavl"),))
    b = _report(2, "Школа №4: девятиклассник с топором.", vector=base, places=(("Atyrau Region", "Zhylyoi", "Kulsary"),))
    assert decide(a, b) is None
    c = _report(3, "Школа №4: девятиклассник с топором.", hours=100, vector=base,
                places=(("North Kazakhstan Region", None, "Petropavl"),))
    assert decide(a, c, Rules(window_h=72)) is None and decide(a, c, Rules(window_h=200)) is not None


def test_pairwise_scores_count_joins_and_merges() -> None:
    items = [Labelled("a", "e1", "В Талгаре в школе №5 девятиклассника избили.", T0),
             Labelled("b", "e1", "Талғардағы №5 мектепте 9-сынып оқушысын ұрып-соқты.", T0 + timedelta(hours=2)),
             Labelled("c", "e2", "В Талгаре в школе №8 семиклассницу избили.", T0 + timedelta(hours=1))]
    places = Gazetteer.load(PlacesSettings(regions=ALL_REGIONS))
    v = _unit(9)
    reports = [to_report(0, items[0], places, v), to_report(1, items[1], places, _unit(10, v, 0.9)),
               to_report(2, items[2], places, _unit(11, v, 0.9))]
    s = score_pairs(items, reports, Rules())
    assert (s.same, s.joined, s.different, s.merged) == (1, 1, 2, 0)
    assert s.recall == 1.0 and s.precision == 1.0 and s.summary()["merge_rate"] == 0.0


# -- the national gazetteer ----------------------------------------------------------------------------

def test_unwatched_regions_get_their_real_place_after_the_watched_ones() -> None:
    g = Gazetteer.load(PlacesSettings())
    found, _ = g.analyze("В Кульсары Атырауской области ученик напал с топором")
    assert found[0].region == "Atyrau Region" and found[0].town == "Kulsary"
    assert g.match("В Кульсары Атырауской области ученик напал") == []  # match(): watched regions only
    both, _ = g.analyze("Министерство в Астане проверит школу №12 в Каскелене")
    assert both[0].region == "Almaty Region"
    assert any(m.region == "Astana City" for m in both)
    kk, _ = g.analyze("Петропавлдағы мектепте оқиға болды")
    assert kk[0].town == "Petropavl"
    en, _ = g.analyze("A fight at a school in Shymkent")
    assert en[0].region == "Shymkent City"
    watched = Gazetteer.load(PlacesSettings(regions=("Atyrau Region",)))
    assert watched.match("в городе Кульсары")[0].region == "Atyrau Region"
    # The detailed regions keep their look-alike blocks: Balkhash city is Karaganda's, not the district.
    lake, _ = g.analyze("в городе Балхаш школьники подрались")
    assert all(m.region != "Almaty Region" for m in lake)


# -- through the pipeline and the queue (SQLite and PostgreSQL) --------------------------------------

def _similar_embedder(*texts: str) -> StoryEmbedder:
    return StoryEmbedder(dict.fromkeys(texts, "story"))


def test_a_new_beating_does_not_join_an_older_knife_threat(sessions: sessionmaker[Session],
                                                           settings: Settings) -> None:
    embed = StoryEmbedder({KONAEV_THREAT: "threat", KONAEV_BEATING: "beating"}, similar=[{"threat", "beating"}])
    p = pipeline(sessions, settings, embed)
    assert p.ingest([post(1, KONAEV_THREAT)]).enqueued == 1
    assert p.ingest([post(2, KONAEV_BEATING, minutes=300)]).enqueued == 1
    ids = incidents_of(sessions)
    assert ids["chan/1"] != ids["chan/2"]
    with sessions() as s:
        assert s.exec(select(sa.func.count()).select_from(QueueItem)).one() == 2


def test_a_join_keeps_its_reason_and_the_moderator_sees_it(sessions: sessionmaker[Session],
                                                            settings: Settings) -> None:
    p = pipeline(sessions, settings, _similar_embedder(TALGAR_RU, TALGAR_KK))
    p.ingest([post(1, TALGAR_RU)])
    p.ingest([post(2, TALGAR_KK, minutes=90, channel="kz")])
    with sessions() as s:
        joined = s.exec(select(PostRow).where(PostRow.external_id == "kz/2")).one()
        first = s.exec(select(PostRow).where(PostRow.external_id == "chan/1")).one()
        assert joined.incident_id == first.incident_id
        assert joined.join_reason == "semantic" and joined.join_score and joined.join_post_id == first.id
        assert joined.join_detail and "school 5" in joined.join_detail and "grade 7" in joined.join_detail
        assert first.join_reason is None
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "queue.join")).one()
        assert audit.detail["reason"] == "semantic"


def _moderator(sessions: sessionmaker[Session], name: str = "aigul"):  # type: ignore[no-untyped-def]
    return create_user(sessions, name, "moderator", "long enough password")


def _item_of(sessions: sessionmaker[Session], external_id: str) -> QueueItem:
    with sessions() as s:
        row = s.exec(select(PostRow).where(PostRow.external_id == external_id)).one()
        return s.exec(select(QueueItem).where(QueueItem.incident_id == row.incident_id)).one()


def test_a_post_joining_a_dismissed_item_reopens_it(sessions: sessionmaker[Session], settings: Settings) -> None:
    p = pipeline(sessions, settings, _similar_embedder(TALGAR_RU, TALGAR_KK))
    p.ingest([post(1, TALGAR_RU)])
    user = _moderator(sessions)
    item = _item_of(sessions, "chan/1")
    decide_item(sessions, user, item.id or 0, "dismissed", reason="old_news")
    p.ingest([post(2, TALGAR_KK, minutes=60, channel="kz")])
    after = _item_of(sessions, "kz/2")
    assert after.id == item.id and after.status == "new" and after.updates_since_decision == 1
    assert after.post_count == 2
    with sessions() as s:
        assert s.exec(select(Decision.status).where(Decision.queue_item_id == item.id)).all() == ["dismissed"]
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "queue.reopen")).one().detail["reason"] == \
            "new post since decision"
        assert [i.id for i in list_items(s, QueueFilter(status=("new", "in_review")))] == [item.id]


def test_a_post_joining_a_confirmed_item_is_an_update_everywhere(sessions: sessionmaker[Session],
                                                                  settings: Settings) -> None:
    p = pipeline(sessions, settings, _similar_embedder(TALGAR_RU, TALGAR_KK))
    p.ingest([post(1, TALGAR_RU)])
    user = _moderator(sessions)
    item = _item_of(sessions, "chan/1")
    decide_item(sessions, user, item.id or 0, "confirmed")
    with sessions() as s:
        assert list_items(s, QueueFilter(updates=True)) == []
    p.ingest([post(2, TALGAR_KK, minutes=60, channel="kz")])
    after = _item_of(sessions, "kz/2")
    assert after.status == "confirmed" and after.updates_since_decision == 1 and after.last_update_at
    with sessions() as s:
        assert [i.id for i in list_items(s, QueueFilter(updates=True))] == [item.id]
        assert s.exec(select(Alert.reason).where(Alert.queue_item_id == item.id)).all() == ["update"]
        # The next digest counts it, even though it was confirmed before the period.
        start = after.last_update_at - timedelta(minutes=1)  # type: ignore[operator]
        data = collect(s, settings, start, start + timedelta(hours=1), b"k" * 32)
        assert data.confirmed_count == 1 and [line.item_id for line in data.updates] == [item.id]
    decide_item(sessions, user, item.id or 0, "confirmed") if False else None
    reopened = reopen(sessions, user, item.id or 0, note="new reports")
    assert reopened.status == "new"
    decide_item(sessions, user, item.id or 0, "confirmed")
    assert _item_of(sessions, "kz/2").updates_since_decision == 0


def test_reopen_is_audited_and_refuses_open_items(sessions: sessionmaker[Session], settings: Settings) -> None:
    p = pipeline(sessions, settings)
    p.ingest([post(1, TALGAR_RU)])
    user = _moderator(sessions)
    item = _item_of(sessions, "chan/1")
    try:
        reopen(sessions, user, item.id or 0)
        raise AssertionError("reopened an open item")
    except QueueError:
        pass
    decide_item(sessions, user, item.id or 0, "escalated")
    assert reopen(sessions, user, item.id or 0).status == "new"
    with sessions() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "queue.reopen")).all()
        assert [(e.actor, e.detail["previous"]) for e in events] == [("aigul", "escalated")]


def test_merge_moves_posts_keeps_history_and_records_same_event_pairs(sessions: sessionmaker[Session],
                                                                      settings: Settings) -> None:
    p = pipeline(sessions, settings)
    p.ingest([post(1, TALGAR_RU), post(2, KONAEV_BEATING, minutes=5, channel="b")])
    user = _moderator(sessions)
    a, b = _item_of(sessions, "chan/1"), _item_of(sessions, "b/2")
    assert a.id != b.id
    try:
        merge_items(sessions, user, a.id or 0, [a.id or 0])
        raise AssertionError("merged an item into itself")
    except InputError:
        pass
    merged = merge_items(sessions, user, a.id or 0, [b.id or 0])
    assert merged.post_count == 2
    ids = incidents_of(sessions)
    assert ids["chan/1"] == ids["b/2"]
    gone = _item_of(sessions, "chan/1")
    with sessions() as s:
        old = s.get(QueueItem, b.id)
        assert old is not None and old.status == "merged" and old.merged_into_id == a.id
        pairs = s.exec(select(GroupingCorrection)).all()
        assert [(c.action, c.same_event) for c in pairs] == [("merge", True)]
        assert len(correction_pairs(s)) == 1
        assert s.exec(select(sa.func.count()).select_from(AuditEvent)
                      .where(AuditEvent.action == "incident.merge")).one() == 2
        moved = s.exec(select(PostRow).where(PostRow.external_id == "b/2")).one()
        assert moved.join_reason == "merge" and "aigul" in (moved.join_detail or "")
    assert gone.id == a.id
    try:
        merge_items(sessions, user, a.id or 0, [b.id or 0])
        raise AssertionError("merged a merged item again")
    except QueueError:
        pass


def test_split_records_different_event_pairs(sessions: sessionmaker[Session], settings: Settings) -> None:
    p = pipeline(sessions, settings, _similar_embedder(TALGAR_RU, TALGAR_KK))
    p.ingest([post(1, TALGAR_RU), post(2, TALGAR_KK, minutes=30, channel="kz")])
    user = _moderator(sessions)
    item = _item_of(sessions, "chan/1")
    with sessions() as s:
        kz = s.exec(select(PostRow).where(PostRow.external_id == "kz/2")).one()
    split_incident(sessions, user, item.id or 0, [kz.id or 0])
    with sessions() as s:
        rows = s.exec(select(GroupingCorrection)).all()
        assert [(r.action, r.same_event) for r in rows] == [("split", False)]
        assert s.exec(select(PostRow).where(PostRow.id == kz.id)).one().join_reason is None


def test_rebuild_repairs_flagged_posts_without_a_live_item(sessions: sessionmaker[Session],
                                                           settings: Settings) -> None:
    p = pipeline(sessions, settings)
    p.ingest([post(1, TALGAR_RU)])
    item = _item_of(sessions, "chan/1")
    with sessions.begin() as s:  # an item lost (crash, manual repair, old bug): the post keeps its incident
        s.execute(sa.delete(QueueItem).where(col(QueueItem.id) == item.id))
        loose = PostRow(platform="telegram", external_id="loose/1", url="https://t.me/loose/1",
                        text="В Талгаре избили школьника", published_at=T0 + timedelta(days=9), content_key="x" * 64)
        s.add(loose)
        s.flush()
        s.add(Classification(post_id=loose.id or 0, model_version="old-model", score=0.9, flag=True,
                             categories={"physical_violence": 0.9}, severity="medium"))
    assert p.requeue() == 2
    assert p.requeue() == 0  # idempotent
    with sessions() as s:
        assert s.exec(select(sa.func.count()).select_from(QueueItem)).one() == 2
        assert s.exec(select(sa.func.count()).select_from(PostRow).where(PostRow.incident_id.is_(None))).one() == 0  # type: ignore[union-attr]


def test_outside_posts_get_their_place_and_are_routed(db_url: str, sessions: sessionmaker[Session]) -> None:
    text = "В Кульсары Атырауской области в школе №6 ученика избили, он в больнице."
    for n, outside in enumerate(("keep", "queue_low", "drop")):
        settings = Settings(database=DatabaseSettings(url=db_url), places=PlacesSettings(outside=outside))
        result = pipeline(sessions, settings).ingest([post(n, text, minutes=n * 60 * 24 * 10, channel=outside)])
        with sessions() as s:
            row = s.exec(select(PostRow).where(PostRow.external_id == f"{outside}/{n}")).one()
            assert row.region == "Atyrau Region" and row.town == "Kulsary"
            item = s.exec(select(QueueItem).where(QueueItem.incident_id == row.incident_id)).first() \
                if row.incident_id else None
        if outside == "keep":
            assert result.enqueued == 0 and row.incident_id is not None and item is None
        elif outside == "queue_low":
            assert result.enqueued == 1 and item is not None and item.severity == "low"
        else:
            assert result.enqueued == 0 and row.incident_id is None
    # Rebuild respects the routing: a kept post gets no item, a dropped one no incident.
    settings = Settings(database=DatabaseSettings(url=db_url))
    assert pipeline(sessions, settings).requeue() == 0


def test_removing_demo_data_rehomes_real_posts(sessions: sessionmaker[Session], settings: Settings) -> None:
    from monitor.service.demo import demo_posts, load_demo, remove_demo

    p = pipeline(sessions, settings)
    load_demo(p, sessions)
    demo = next(d for d in demo_posts() if "избили" in d.text.casefold())
    real = replace(post(1, "Репост: избили школьника, смотрите", channel="real", extras={"repost_of": demo.url}),
                   published_at=demo.published_at + timedelta(minutes=10))
    p.ingest([real])
    with sessions() as s:
        row = s.exec(select(PostRow).where(PostRow.external_id == "real/1")).one()
        demo_row = s.exec(select(PostRow).where(PostRow.url == demo.url)).one()
        assert row.incident_id == demo_row.incident_id and row.join_reason == "link"
    remove_demo(sessions)
    with sessions() as s:
        row = s.exec(select(PostRow).where(PostRow.external_id == "real/1")).one()
        assert row.incident_id is not None and row.join_reason is None
        item = s.exec(select(QueueItem).where(QueueItem.incident_id == row.incident_id)).one()
        assert item.status == "new" and item.post_id == row.id
        assert s.get(Incident, row.incident_id) is not None
    assert pipeline(sessions, settings).requeue() == 0


def test_cli_merge_reopen_show_and_list_keep_their_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from monitor.core.db import create_db_engine, session_factory, upgrade
    from tests.test_cli import monitor
    from tests.web.conftest import add_item

    url = f"sqlite:///{tmp_path}/m.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    engine = create_db_engine(DatabaseSettings(url=url))
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        a = add_item(s, 1, "В Талгаре избили ученика школы №5", district="Talgar")
        b = add_item(s, 2, "Талғардағы №5 мектепте оқушыны ұрып-соқты", district="Talgar")
    create_user(sessions, "aigul", "moderator", "long enough password")
    engine.dispose()
    assert monitor("queue", "merge", str(a), str(b), "--as", "nobody", config=config).returncode == 1
    merged = monitor("queue", "merge", str(a), str(b), "--as", "aigul", config=config)
    assert merged.returncode == 0, merged.stderr
    shown = monitor("queue", "show", str(a), config=config).stdout
    assert "https://t.me/chan/1" in shown and "https://t.me/chan/2" in shown and "joined because merged by aigul" in shown
    rows = [json.loads(line) for line in monitor("queue", "list", "--json", config=config).stdout.splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert by_id[a]["post_count"] == 2 and by_id[a]["status"] == "new" and by_id[a]["incident_id"]
    assert by_id[b]["status"] == "merged" and by_id[b]["post_count"] == 0
    refused = monitor("queue", "reopen", str(a), "--as", "aigul", config=config)
    assert refused.returncode == 1 and "not decided" in refused.stderr
    matched = monitor("match", "В Кульсары Атырауской области и в Каскелене", config=config).stdout
    assert "Atyrau Region / Zhylyoi / Kulsary  (not watched)" in matched and "Almaty Region / Karasai" in matched
    evaluated = monitor("evaluate-incidents", "--no-encoder", config=config)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["corrections"]["same_pairs"] == 1


def test_retention_purges_merged_and_corrected_items(sessions: sessionmaker[Session], settings: Settings) -> None:
    from monitor.service.retention import purge

    p = pipeline(sessions, settings)
    p.ingest([post(1, TALGAR_RU), post(2, KONAEV_BEATING, minutes=5, channel="b")])
    user = _moderator(sessions)
    a, b = _item_of(sessions, "chan/1"), _item_of(sessions, "b/2")
    merge_items(sessions, user, a.id or 0, [b.id or 0])
    decide_item(sessions, user, a.id or 0, "dismissed", reason="not_violence")
    report = purge(sessions, settings, datetime.now(UTC) + timedelta(days=settings.retention.dismissed_days + 1))
    assert report.counts.get("post", 0) == 2
    with sessions() as s:
        assert s.exec(select(sa.func.count()).select_from(GroupingCorrection)).one() == 0
        assert s.exec(select(sa.func.count()).select_from(QueueItem)).one() == 0
        assert s.exec(select(sa.func.count()).select_from(PostRow)).one() == 0
