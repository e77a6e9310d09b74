"""A scheduler process for the scale-out test: the service's interval jobs plus a probe, short intervals.

Run as `python -m tests.service.scale_worker DATABASE_URL PROBE_LOG`; stops on SIGTERM.
"""

from __future__ import annotations

import os
import sys

from monitor.core.config import AlertSettings, DatabaseSettings, DigestSettings, SchedulerSettings, Settings
from monitor.core.db import create_db_engine, session_factory
from monitor.core.locks import interval_slot
from monitor.core.tables import utcnow
from monitor.service.scheduler import add_guarded_job, build_scheduler, interval_trigger, serve_until_signalled

INTERVAL_S, JITTER_S = 3.0, 0.5  # slots tolerate ~1.2 s of scheduling delay on a loaded machine


def main(url: str, probe_log: str) -> None:
    """Run the scheduler until SIGTERM; the probe appends 'pid slot' per execution to PROBE_LOG."""
    settings = Settings(
        database=DatabaseSettings(url=url),
        scheduler=SchedulerSettings(lease_check_interval_s=INTERVAL_S, jitter_s=JITTER_S, misfire_grace_s=5),
        alerts=AlertSettings(check_interval_s=INTERVAL_S),
        digest=DigestSettings(retry_check_interval_s=INTERVAL_S),
    )
    sessions = session_factory(create_db_engine(settings.database))
    scheduler = build_scheduler(settings, sessions)

    def probe() -> None:
        slot = interval_slot(utcnow(), INTERVAL_S, JITTER_S)
        with open(probe_log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {slot.isoformat()}\n")

    add_guarded_job(
        scheduler,
        "probe",
        interval_trigger(INTERVAL_S, JITTER_S),
        lambda now: interval_slot(now, INTERVAL_S, JITTER_S),
        probe,
    )
    print("ready", flush=True)
    serve_until_signalled(scheduler)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
