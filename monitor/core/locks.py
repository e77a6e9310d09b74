"""Run a scheduled job once per interval slot across several processes that share one database.

Two mechanisms together:
- a `job_run` row per (job, slot) under a unique constraint: the first process to insert it runs
  the slot, every other process sees the conflict and skips (works on SQLite and PostgreSQL);
- on PostgreSQL a session-level advisory lock per job held while it runs, so a run that outlasts
  its interval is never overlapped by another process's next slot (the lock dies with the
  connection, so a killed process never leaves it behind).
On SQLite one process is assumed (it cannot be shared across machines anyway); APScheduler's
`max_instances=1` keeps a job from overlapping itself there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.db import transaction
from monitor.core.errors import MonitorError
from monitor.core.tables import JobRun, utcnow

log = logging.getLogger(__name__)

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
T = TypeVar("T")


def holder_name() -> str:
    """Who runs a job: host and process id, recorded on each job_run row."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def interval_slot(now: datetime, interval_s: float, jitter_s: float = 0.0) -> datetime:
    """The slot a run at `now` belongs to, for interval triggers aligned to EPOCH with jitter in [0, jitter_s].

    Rounding (after removing half the jitter) rather than flooring tolerates clock skew between
    machines of up to (interval - jitter) / 2 either way.
    """
    elapsed = (now - EPOCH).total_seconds() - jitter_s / 2
    index = round(elapsed / interval_s)
    return EPOCH + timedelta(seconds=index * interval_s)


def daily_slot(now: datetime, tz: ZoneInfo) -> datetime:
    """The slot of a once-a-day job: the start of the local day, in UTC."""
    local_day: date = now.astimezone(tz).date()
    return datetime.combine(local_day, time(0, 0), tzinfo=tz).astimezone(UTC)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory locks from a job name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True when this process may run `name` now (PostgreSQL advisory lock; always True on SQLite)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = advisory_key(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield got
        finally:
            if got:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def claim_slot(sessions: sessionmaker[Session], job: str, slot_at: datetime, holder: str) -> int | None:
    """Insert the job_run row for (job, slot); its id, or None when another process already has it."""
    try:
        with transaction(sessions) as session:
            run = JobRun(job=job, slot_at=slot_at, holder=holder)
            session.add(run)
            session.flush()
            return run.id
    except sa.exc.IntegrityError:
        return None


def finish_run(sessions: sessionmaker[Session], run_id: int, status: str, error: str | None = None) -> None:
    """Record how a job run ended."""
    with transaction(sessions) as session:
        run = session.get(JobRun, run_id)
        if run is not None:
            run.status = status
            run.error = error[:4000] if error else None
            run.finished_at = utcnow()


def first_line(exc: BaseException) -> str:
    """The first line of an error (of its driver error for a database one), for a one-line log."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0][:300] if lines else type(orig).__name__


def run_once(
    sessions: sessionmaker[Session],
    job: str,
    slot_at: datetime,
    work: Callable[[], T],
    holder: str | None = None,
) -> tuple[str, T | None]:
    """Run `work` for (job, slot) unless another process holds or already ran it; failures recorded, not raised.

    Returns ("ok", result), ("failed", None), ("busy", None) or ("done_elsewhere", None).
    """
    engine = sessions.kw["bind"]
    with exclusive(engine, job) as got:
        if not got:
            log.info("job %s: running in another process, slot %s skipped", job, slot_at.isoformat())
            return "busy", None
        run_id = claim_slot(sessions, job, slot_at, holder or holder_name())
        if run_id is None:
            log.debug("job %s: slot %s already run", job, slot_at.isoformat())
            return "done_elsewhere", None
        try:
            result = work()
        except MonitorError as e:  # an expected failure (source down, SMTP refused): no traceback
            log.warning("job %s failed: %s", job, e)
            finish_run(sessions, run_id, "failed", str(e))
            return "failed", None
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:  # the database went away mid-job
            log.warning("job %s failed: database unavailable (%s)", job, first_line(e))
            finish_run(sessions, run_id, "failed", f"database unavailable: {first_line(e)}")
            return "failed", None
        except Exception as e:  # a job's failure is recorded and never stops the scheduler
            log.exception("job %s failed", job)
            finish_run(sessions, run_id, "failed", f"{type(e).__name__}: {e}")
            return "failed", None
        finish_run(sessions, run_id, "ok")
        return "ok", result
