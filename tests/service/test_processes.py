"""Real processes: three schedulers on one PostgreSQL run each job once per slot; SIGTERM mid-batch."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, session_factory
from monitor.core.tables import JobRun
from monitor.ingest.pipeline import Pipeline
from tests.service.ingest_worker import batch
from tests.service.scale_worker import INTERVAL_S

ROOT = Path(__file__).resolve().parents[2]
BIG_BATCH = 40_000


def spawn(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str]:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


@pytest.mark.postgres
@pytest.mark.slow
def test_three_processes_run_each_job_once_per_interval(pg_url: str, tmp_path: Path) -> None:
    probe_log = tmp_path / "probe.log"
    procs = [spawn("tests.service.scale_worker", pg_url, str(probe_log)) for _ in range(3)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started > 21, 40, "the run")
    finally:
        results = [stop(p) for p in procs]
    for code, out in results:
        assert code == 0, out

    executions = [line.split() for line in probe_log.read_text().splitlines()]
    per_slot = Counter(slot for _, slot in executions)
    assert per_slot and max(per_slot.values()) == 1, per_slot.most_common(3)
    slots = sorted(datetime.fromisoformat(s) for s in per_slot)
    expected = (slots[-1] - slots[0]).total_seconds() / INTERVAL_S + 1
    assert len(slots) >= 0.7 * expected, (len(slots), expected)  # slots are not silently skipped
    assert len({pid for pid, _ in executions}) >= 2  # the work is shared, not one process doing it all

    engine = create_db_engine(DatabaseSettings(url=pg_url))
    with session_factory(engine)() as session:
        runs = session.exec(select(JobRun)).all()
    engine.dispose()
    jobs = Counter(r.job for r in runs)
    assert jobs["probe"] == len(executions)
    assert jobs["expire-leases"] >= 0.7 * expected and jobs["alerts"] >= 0.7 * expected
    assert all(r.status == "ok" for r in runs), [(r.job, r.error) for r in runs if r.status != "ok"]
    assert len({r.holder for r in runs}) >= 2


def _posts(url: str) -> tuple[int, int]:
    engine = create_db_engine(DatabaseSettings(url=url))
    with engine.connect() as conn:
        total, distinct = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT external_id) FROM post WHERE platform = 'sigterm'")
        ).one()
    engine.dispose()
    return int(total), int(distinct)


def _ingest_run(url: str) -> JobRun:
    engine = create_db_engine(DatabaseSettings(url=url))
    with session_factory(engine)() as session:
        run = session.exec(select(JobRun).where(JobRun.job == "ingest-batch")).one()
    engine.dispose()
    return run


def _rerun_completes(url: str, before: int) -> None:
    settings = Settings(database=DatabaseSettings(url=url))
    engine = create_db_engine(settings.database)
    result = Pipeline(session_factory(engine), settings).ingest(batch(BIG_BATCH))
    engine.dispose()
    assert result.new == BIG_BATCH - before
    assert _posts(url) == (BIG_BATCH, BIG_BATCH)


@pytest.mark.slow
def test_sigterm_mid_batch_lets_the_batch_commit_whole(db_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    proc = spawn("tests.service.ingest_worker", db_url, str(BIG_BATCH), str(marker))
    wait_for(marker.exists, 120, "the batch to start")
    signalled_at = datetime.now(UTC)
    code, out = stop(proc)
    assert code == 0, out
    run = _ingest_run(db_url)
    assert run.status == "ok" and run.finished_at is not None
    assert run.finished_at > signalled_at  # the signal really came mid-batch, and the batch was finished
    assert _posts(db_url) == (BIG_BATCH, BIG_BATCH)
    _rerun_completes(db_url, BIG_BATCH)


@pytest.mark.slow
def test_killed_mid_batch_leaves_none_of_it_and_a_rerun_completes_it(db_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    proc = spawn("tests.service.ingest_worker", db_url, str(BIG_BATCH), str(marker))
    wait_for(marker.exists, 120, "the batch to start")
    stop(proc, signal.SIGKILL)
    run = _ingest_run(db_url)
    assert run.status == "running" and run.finished_at is None  # it really died mid-batch
    total, distinct = _posts(db_url)
    assert total == distinct and total in (0, BIG_BATCH)
    _rerun_completes(db_url, total)
