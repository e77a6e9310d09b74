"""A scheduler process that ingests one big batch through the real pipeline, for the SIGTERM test.

Run as `python -m tests.service.ingest_worker DATABASE_URL N MARKER`: writes MARKER when the
batch starts, stops on SIGTERM after the batch in flight.
"""

from __future__ import annotations

import sys
from pathlib import Path

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, session_factory
from monitor.ingest.pipeline import Pipeline
from monitor.service.scheduler import add_guarded_job, build_scheduler, interval_trigger, serve_until_signalled
from tests.helpers import make_post


def batch(n: int) -> list:  # type: ignore[type-arg]
    """The synthetic batch: n posts, the same every time."""
    return [
        make_post(
            i, f"Синтетическая новость {i}: в школе №{i % 40} прошло собрание родителей", platform="sigterm"
        )
        for i in range(n)
    ]


def main(url: str, n: int, marker: str) -> None:
    """Ingest the batch as a scheduled job, then idle until SIGTERM."""
    settings = Settings(database=DatabaseSettings(url=url))
    sessions = session_factory(create_db_engine(settings.database))
    pipeline = Pipeline(sessions, settings)
    posts = batch(n)
    scheduler = build_scheduler(settings, sessions)
    for job in scheduler.get_jobs():
        scheduler.remove_job(job.id)

    def ingest() -> None:
        Path(marker).write_text("started", encoding="utf-8")
        pipeline.ingest(posts)

    add_guarded_job(
        scheduler, "ingest-batch", interval_trigger(3600, 0), lambda now: now, ingest, run_now=True
    )
    serve_until_signalled(scheduler)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
