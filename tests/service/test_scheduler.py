"""Scheduler wiring with a controlled clock: fire times across the Asia/Almaty offset, guarded runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import DigestSettings, SchedulerSettings, Settings, SmtpSettings, SourceSettings
from monitor.core.errors import ScrapeError
from monitor.core.locks import EPOCH, interval_slot
from monitor.core.tables import JobRun, Source
from monitor.ingest.pipeline import Pipeline
from monitor.service.scheduler import (
    JobContext,
    ServiceScheduler,
    add_guarded_job,
    build_scheduler,
    interval_trigger,
    run_guarded,
)
from tests.fakes import KeywordClassifier
from tests.service.conftest import SmtpServer
from tests.service.seed import seed_digest


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def job_settings(settings: Settings, **digest: object) -> Settings:
    return settings.model_copy(
        update={
            "digest": DigestSettings(**digest),  # type: ignore[arg-type]
            "sources": (
                SourceSettings(name="tg_news", platform="telegram", target="almaty_news", interval="15m"),
                SourceSettings(name="tg_off", platform="telegram", target="other", enabled=False),
            ),
        }
    )


def next_fire(scheduler: ServiceScheduler, job: str, after: datetime) -> datetime:
    trigger = scheduler.get_job(job).trigger
    fire = trigger.get_next_fire_time(None, after)
    assert fire is not None
    return fire.astimezone(UTC)  # type: ignore[no-any-return]


def test_jobs_and_their_options(settings: Settings, sessions: sessionmaker[Session]) -> None:
    settings = job_settings(settings)
    pipeline = Pipeline(sessions, settings, classifier=KeywordClassifier())
    scheduler = build_scheduler(settings, sessions, pipeline)
    try:
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {
            "source:tg_news",
            "telegram-comments",
            "classify-backlog",
            "expire-leases",
            "alerts",
            "digest",
            "digest-retry",
            "media-fetch",
            "retention",
        }
        for job in jobs.values():
            assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 300)
        assert jobs["source:tg_news"].trigger.interval == timedelta(minutes=15)
        assert jobs["source:tg_news"].trigger.jitter == 30
        assert len(scheduler.ctx.resources) == 1  # the scrapers' HTTP client, closed on shutdown
    finally:
        for resource in scheduler.ctx.resources:  # never started, so shutdown() does not apply
            resource.close()
    without_pipeline = build_scheduler(settings, sessions)
    assert {j.id for j in without_pipeline.get_jobs()} == {
        "expire-leases",
        "alerts",
        "digest",
        "digest-retry",
        "media-fetch",
        "retention",
    }


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Before March 2024 Almaty was UTC+6: 08:00 local is 02:00 UTC.
        (datetime(2023, 6, 1, 0, 0, tzinfo=UTC), datetime(2023, 6, 1, 2, 0, tzinfo=UTC)),
        # Thursday 10:00 (+06) -> Friday 1 March 2024 08:00, after the switch to +05 at midnight: 03:00 UTC.
        (datetime(2024, 2, 29, 4, 0, tzinfo=UTC), datetime(2024, 3, 1, 3, 0, tzinfo=UTC)),
        # Now UTC+5. Friday 09:00 local, weekdays only -> Monday 08:00 local.
        (datetime(2026, 11, 27, 4, 0, tzinfo=UTC), datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),
        # 07:59 local Monday -> the same morning; 22:00 UTC Sunday is already Monday 03:00 local.
        (datetime(2026, 11, 30, 2, 59, tzinfo=UTC), datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),
        (datetime(2026, 11, 29, 22, 0, tzinfo=UTC), datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),
    ],
)
def test_digest_fires_at_the_local_time_across_the_almaty_offset(
    settings: Settings, sessions: sessionmaker[Session], after: datetime, expected: datetime
) -> None:
    settings = job_settings(settings, time="08:00", days=("mon", "tue", "wed", "thu", "fri"))
    assert next_fire(build_scheduler(settings, sessions), "digest", after) == expected


def test_retention_runs_daily_at_its_local_time_with_jitter(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    settings = settings.model_copy(
        update={"scheduler": SchedulerSettings(retention_time="03:30", jitter_s=30)}
    )
    fire = next_fire(
        build_scheduler(settings, sessions), "retention", datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    )
    base = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)  # 03:30 on the 30th in Almaty
    assert base <= fire <= base + timedelta(seconds=30)


def test_interval_jobs_are_aligned_so_processes_agree_on_slots(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    settings = settings.model_copy(update={"scheduler": SchedulerSettings(lease_check_interval_s=60)})
    after = datetime(2026, 11, 29, 12, 0, 17, 123456, tzinfo=UTC)
    fire = next_fire(build_scheduler(settings, sessions), "expire-leases", after)
    assert fire == datetime(2026, 11, 29, 12, 1, tzinfo=UTC)
    # With jitter, each fire maps back to the slot it was meant for.
    trigger = interval_trigger(900, 30)
    for _ in range(50):
        jittered = trigger.get_next_fire_time(None, after)
        assert interval_slot(jittered, 900, 30) == datetime(2026, 11, 29, 12, 15, tzinfo=UTC)
    # ... and the jitter does not accumulate from one fire to the next (APScheduler's own trigger drifts).
    fire, first_slot = jittered, datetime(2026, 11, 29, 12, 15, tzinfo=UTC)
    for n in range(1, 2000):
        fire = trigger.get_next_fire_time(fire, fire)
        assert interval_slot(fire, 900, 30) == first_slot + n * timedelta(seconds=900)


def test_a_guarded_job_runs_once_per_slot_and_records_failures(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    clock = Clock(datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC))
    ctx = JobContext(settings, sessions, clock=clock, holder="test-1")
    calls: list[datetime] = []

    def flaky() -> None:
        calls.append(clock.now)
        if len(calls) == 1:
            raise ScrapeError("HTTP 503", source="tg_news", url="https://t.me/s/almaty_news")

    def slot(now: datetime) -> datetime:
        return interval_slot(now, 60)

    assert run_guarded(ctx, "probe", slot, flaky) == "failed"
    assert run_guarded(ctx, "probe", slot, flaky) == "done_elsewhere"  # the failed slot is not re-run
    clock.now += timedelta(seconds=60)
    assert run_guarded(ctx, "probe", slot, flaky) == "ok"
    assert len(calls) == 2

    def bug() -> None:
        raise KeyError("unexpected")

    assert run_guarded(ctx, "bug", slot, bug) == "failed"
    with sessions() as session:
        rows = session.exec(select(JobRun).order_by(JobRun.id)).all()  # type: ignore[arg-type]
    assert [(r.job, r.status, r.holder) for r in rows] == [
        ("probe", "failed", "test-1"),
        ("probe", "ok", "test-1"),
        ("bug", "failed", "test-1"),
    ]
    assert "HTTP 503" in (rows[0].error or "") and "KeyError" in (rows[2].error or "")
    assert rows[0].slot_at == EPOCH + timedelta(
        seconds=round((rows[0].slot_at - EPOCH).total_seconds() / 60) * 60
    )


@pytest.mark.slow
def test_a_failing_job_never_stops_the_running_scheduler(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    scheduler = ServiceScheduler(JobContext(settings, sessions), timezone="UTC")
    done = threading.Event()
    counts = {"bad": 0, "good": 0}

    def bad() -> None:
        counts["bad"] += 1
        raise RuntimeError("boom")

    def good() -> None:
        counts["good"] += 1
        if counts["good"] >= 3 and counts["bad"] >= 3:
            done.set()

    for name, work in (("bad", bad), ("good", good)):
        add_guarded_job(scheduler, name, interval_trigger(0.5, 0), lambda now: now, work)
    scheduler.start()
    try:
        assert done.wait(20), counts
    finally:
        scheduler.shutdown(wait=True)
    assert not scheduler.running


def test_scheduled_digest_sends_once_even_after_a_restart(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = settings.model_copy(
        update={
            "smtp": SmtpSettings(host="127.0.0.1", port=server.port, timeout_s=5),
            "digest": DigestSettings(recipients=("media@edu.example.kz",)),
        }
    )
    monday_0800 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    seed_digest(sessions, monday_0800)
    clock = Clock(monday_0800 - timedelta(minutes=1))

    def fire(scheduler: ServiceScheduler, job: str) -> object:
        j = scheduler.get_job(job)
        return j.func(*j.args)

    first = build_scheduler(settings, sessions, clock=clock)
    assert fire(first, "digest-retry") == "ok" and server.inbox.messages == []  # 07:59: not due yet
    clock.now = monday_0800
    assert fire(first, "digest") == "ok"
    assert len(server.inbox.messages) == 1
    restarted = build_scheduler(settings, sessions, clock=clock)
    clock.now += timedelta(minutes=5)
    assert fire(restarted, "digest-retry") == "ok"
    assert fire(restarted, "digest") == "done_elsewhere"  # today's slot of the daily job already ran
    assert len(server.inbox.messages) == 1


def test_a_failing_source_job_is_recorded_on_the_source_and_the_job_run(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    settings = settings.model_copy(
        update={"sources": (SourceSettings(name="broken", platform="no_such_platform", target="x"),)}
    )
    scheduler = build_scheduler(settings, sessions, Pipeline(sessions, settings))
    try:
        job = scheduler.get_job("source:broken")
        assert job.func(*job.args) == "failed"
    finally:
        for resource in scheduler.ctx.resources:
            resource.close()
    with sessions() as session:
        source = session.exec(select(Source).where(Source.name == "broken")).one()
        run = session.exec(select(JobRun).where(JobRun.job == "source:broken")).one()
    assert source.consecutive_failures == 1 and "unknown platform" in (source.last_error or "")
    assert run.status == "failed" and "unknown platform" in (run.error or "")
