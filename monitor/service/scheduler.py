"""APScheduler wiring only: which job runs when. The work is plain functions in the modules that own it.

Every job goes through `run_guarded`: it works out the job's interval slot, runs it only if no
other process (sharing the database) has run that slot (monitor.core.locks), records the run in
`job_run`, and logs a failure instead of raising, so one failing job never stops the others.
Interval triggers start at a common epoch, so the processes of a scaled-out deployment agree on
the slots; jitter spreads them inside a slot.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core import locks
from monitor.core.config import Settings, SourceSettings
from monitor.core.errors import DatabaseError, ScrapeError
from monitor.core.tables import utcnow

log = logging.getLogger(__name__)

Slot = Callable[[datetime], datetime]


@dataclass
class JobContext:
    """What every job needs: settings, the database, a clock (tests pass their own), shared clients."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    holder: str = field(default_factory=locks.holder_name)
    resources: list[Any] = field(default_factory=list)  # closed on shutdown


def run_guarded(ctx: JobContext, job: str, slot: Slot, work: Callable[[], Any]) -> str:
    """Run one job for the current slot once across all processes; returns the outcome, never raises."""
    try:
        status, _ = locks.run_once(ctx.sessions, job, slot(ctx.clock()), work, ctx.holder)
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, DatabaseError) as e:
        # The database is down: one line per job run, no traceback; the next slot tries again.
        log.warning("job %s could not be run: database unavailable (%s)", job, locks.first_line(e))
        return "error"
    except Exception:  # anything else is a defect: logged with its traceback; the next slot tries again
        log.exception("job %s could not be run", job)
        return "error"
    return status


class ServiceScheduler(BackgroundScheduler):  # type: ignore[misc]  # APScheduler 3 ships no types
    """A BackgroundScheduler that also closes the clients its jobs share when it shuts down."""

    def __init__(self, ctx: JobContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing jobs; with wait=True, let the job in flight finish (its batch commits whole)."""
        super().shutdown(wait=wait)
        for resource in self.ctx.resources:
            resource.close()
        self.ctx.resources.clear()


class AlignedIntervalTrigger(IntervalTrigger):  # type: ignore[misc]
    """An interval trigger whose jitter does not accumulate: each fire is a grid point plus fresh jitter.

    APScheduler 3's IntervalTrigger adds the interval to the previous (jittered) fire time, so the
    jitter drifts the schedule by about jitter/2 per run, and processes would stop agreeing on slots.
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The next grid point after the previous fire's own grid point (or after now), plus jitter."""
        if previous_fire_time is None:
            first: datetime | None = super().get_next_fire_time(None, now)
            return first
        start, length = self.start_date.timestamp(), self.interval_length
        index = math.floor((previous_fire_time.timestamp() - start) / length + 1e-9)
        grid = start + (index + 1) * length
        if self.jitter:
            grid += random.uniform(0, self.jitter)
        if self.end_date and grid > self.end_date.timestamp():
            return None
        return datetime.fromtimestamp(grid, tz=self.timezone)


def interval_trigger(interval_s: float, jitter_s: float) -> IntervalTrigger:
    """Every interval_s from the common epoch, delayed by up to jitter_s (capped at half the interval)."""
    return AlignedIntervalTrigger(
        seconds=interval_s,
        start_date=locks.EPOCH,
        timezone="UTC",
        jitter=_jitter(interval_s, jitter_s) or None,
    )


def _jitter(interval_s: float, jitter_s: float) -> float:
    return min(jitter_s, interval_s / 2)


def daily_trigger(
    hh_mm: str, tz: str, days: tuple[str, ...] | None = None, jitter_s: float = 0
) -> CronTrigger:
    """At a local time of day (in `tz`, across its UTC offset changes) on the given weekdays."""
    hour, minute = (int(x) for x in hh_mm.split(":"))
    return CronTrigger(
        hour=hour,
        minute=minute,
        day_of_week=",".join(days) if days else "*",
        timezone=ZoneInfo(tz),
        jitter=jitter_s or None,
    )


def add_guarded_job(
    scheduler: ServiceScheduler,
    name: str,
    trigger: BaseTrigger,
    slot: Slot,
    work: Callable[[], Any],
    *,
    run_now: bool = False,
) -> None:
    """Add a job that runs `work` through `run_guarded`: one instance, misfires coalesced, grace per settings."""
    extra: dict[str, Any] = {"next_run_time": scheduler.ctx.clock()} if run_now else {}
    scheduler.add_job(
        run_guarded,
        trigger,
        args=(scheduler.ctx, name, slot, work),
        id=name,
        name=name,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=int(scheduler.ctx.settings.scheduler.misfire_grace_s),
        replace_existing=True,
        **extra,
    )


def _interval_slot(interval_s: float, jitter_s: float) -> Slot:
    return partial(locks.interval_slot, interval_s=interval_s, jitter_s=_jitter(interval_s, jitter_s))


def _daily_slot(tz: str) -> Slot:
    return partial(locks.daily_slot, tz=ZoneInfo(tz))


def scrape_source(ctx: JobContext, source: SourceSettings, pipeline: Any, http: Any) -> Any:
    """One scheduled run of one source (monitor.ingest.scrape.run_source records its own failures)."""
    from monitor.ingest.scrape import run_source, sync_sources

    source_id = sync_sources(ctx.sessions, [source])[source.name]
    summary = run_source(
        source, source_id, sessions=ctx.sessions, http=http, settings=ctx.settings.http, pipeline=pipeline
    )
    if summary.error:
        raise ScrapeError(summary.error, source=source.name)  # also marks the job_run failed
    return summary


def telegram_comments(ctx: JobContext, pipeline: Any, http: Any) -> Any:
    """Comments of recent flagged Telegram posts; posts that could not be fetched mark the run failed."""
    from monitor.ingest.comments import collect_comments

    run = collect_comments(ctx.sessions, http, pipeline, days=ctx.settings.scheduler.telegram_comments_days)
    if run.errors:
        raise ScrapeError(f"{len(run.errors)} of {run.parents} posts failed; first: {run.errors[0]}")
    return run


def add_service_jobs(
    scheduler: ServiceScheduler, pipeline: Any = None, *, http: Any = None, webhook: Any = None
) -> None:
    """Add the service's jobs: sources (when a pipeline and HTTP client are given), classify backlog,
    lease expiry, alerts, digest (at its local time, and a retry/catch-up tick), retention."""
    from monitor.notify import alerts, digest_runs
    from monitor.review import claims
    from monitor.service import retention

    ctx = scheduler.ctx
    s, sc = ctx.settings, ctx.settings.scheduler
    jitter = sc.jitter_s

    def every(name: str, interval_s: float, work: Callable[[], Any], jitter_s: float = jitter) -> None:
        add_guarded_job(
            scheduler,
            name,
            interval_trigger(interval_s, jitter_s),
            _interval_slot(interval_s, jitter_s),
            work,
        )

    if pipeline is not None and http is not None:
        for source in s.sources:
            if source.enabled:
                every(
                    f"source:{source.name}",
                    source.interval_s,
                    partial(scrape_source, ctx, source, pipeline, http),
                )
    if (pipeline is not None and http is not None and sc.telegram_comments_interval_s > 0
            and any(src.enabled and src.platform == "telegram" for src in s.sources)):
        every("telegram-comments", sc.telegram_comments_interval_s, partial(telegram_comments, ctx, pipeline, http))
    if pipeline is not None and getattr(pipeline, "classifier", None) is not None:
        every("classify-backlog", sc.classify_interval_s, pipeline.classify_backlog)
    every(
        "expire-leases",
        sc.lease_check_interval_s,
        lambda: claims.expire_leases(ctx.sessions, now=ctx.clock()),
        0,
    )
    every(
        "alerts",
        s.alerts.check_interval_s,
        lambda: alerts.send_alerts(ctx.sessions, s, webhook, now=ctx.clock()),
        0,
    )
    add_guarded_job(
        scheduler,
        "digest",
        daily_trigger(s.digest.time, s.timezone, s.digest.days),
        _daily_slot(s.timezone),
        lambda: digest_runs.run_digests(ctx.sessions, s, ctx.clock()),
    )
    # After a restart past the digest time, or a failed send: run_digests sends what is due and not sent.
    every(
        "digest-retry",
        s.digest.retry_check_interval_s,
        lambda: digest_runs.run_digests(ctx.sessions, s, ctx.clock()),
    )
    if s.media.enabled:
        from monitor.ingest.media.job import scheduled as media_work

        every("media-fetch", s.media.fetch_interval_s, media_work(ctx.sessions, s))
    add_guarded_job(
        scheduler,
        "retention",
        daily_trigger(sc.retention_time, s.timezone, jitter_s=jitter),
        _daily_slot(s.timezone),
        lambda: retention.purge(ctx.sessions, s, ctx.clock()),
    )


def build_scheduler(
    settings: Settings,
    sessions: sessionmaker[Session],
    pipeline: Any = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    http: Any = None,
    webhook: Any = None,
) -> ServiceScheduler:
    """The service's scheduler, not started: call `.start()`, and `.shutdown(wait=True)` on SIGTERM/SIGINT.

    `pipeline` is a monitor.ingest.pipeline.Pipeline (None: no source or classify jobs). The HTTP client
    for the scrapers (monitor.ingest.http.HttpClient) and the webhook client (httpx.Client) are opened here
    from settings unless given, and closed by `.shutdown()`. Safe to run in several processes
    against one PostgreSQL database: each job runs once per slot across all of them.
    """
    ctx = JobContext(settings, sessions, clock=clock)
    if pipeline is not None and http is None and any(s.enabled for s in settings.sources):
        from monitor.ingest.http import open_client

        http = open_client(settings.http)
        ctx.resources.append(http)
    if webhook is None and settings.alerts.webhook_url:
        import httpx

        webhook = httpx.Client(timeout=settings.alerts.webhook_timeout_s, follow_redirects=False)
        ctx.resources.append(webhook)
    scheduler = ServiceScheduler(ctx, timezone=ZoneInfo(settings.timezone))
    add_service_jobs(scheduler, pipeline, http=http, webhook=webhook)
    return scheduler


def serve_until_signalled(scheduler: ServiceScheduler, stop: threading.Event | None = None) -> None:
    """Start the scheduler and block until SIGTERM/SIGINT (or `stop`), then shut down waiting for jobs."""
    stop = stop or threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the jobs in flight", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
        log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("scheduler stopped")
