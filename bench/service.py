"""Digest build time on a large queue, and the cost of the once-per-slot guard around every job.

python -m bench.service [--items 20000] [--pg URL]   (JSON summary on the last line)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, normalize_url, session_factory, upgrade
from monitor.core.locks import run_once
from monitor.core.tables import Incident, Post, QueueItem
from monitor.core.vocab import SEVERITIES
from monitor.notify.digest import collect, render

DISTRICTS = ["Karasai", "Talgar", "Ili", "Enbekshikazakh", "Balkhash", "Zhambyl", "Taldykorgan", "Konaev"]
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def seed(sessions: sessionmaker[Session], n: int) -> None:
    """n queue items: 2% confirmed in the last day, 60% dismissed, the rest pending, spread over districts."""
    with sessions() as session, session.begin():
        incidents = [Incident(district=DISTRICTS[i % len(DISTRICTS)]) for i in range(n)]
        session.add_all(incidents)
        session.flush()
        posts = [
            Post(
                platform="bench",
                external_id=str(i),
                url=f"https://t.me/bench/{i}",
                text="synthetic",
                author=f"@author{i % 300}",
                published_at=NOW - timedelta(days=i % 30),
                content_key=f"k{i}",
                incident_id=incidents[i].id,
            )
            for i in range(n)
        ]
        session.add_all(posts)
        session.flush()
        for i in range(n):
            status = "confirmed" if i % 50 == 0 else "dismissed" if i % 5 < 3 else "new"
            severity = SEVERITIES[1 + i % 4]
            session.add(
                QueueItem(
                    incident_id=incidents[i].id or 0,
                    post_id=posts[i].id or 0,
                    status=status,
                    severity=severity,
                    severity_rank=1 + i % 4,
                    score=0.8,
                    category="bullying",
                    district=DISTRICTS[i % len(DISTRICTS)],
                    region="Almaty Region",
                    school=f"School No. {i % 90}",
                    created_at=NOW - timedelta(hours=i % 700),
                    decided_at=NOW - timedelta(hours=i % 23) if status != "new" else None,
                )
            )


def bench(url: str, n: int) -> dict[str, float]:
    """Seed, then time collect+render (median of 5) and 200 guarded no-op job runs."""
    settings = Settings(database=DatabaseSettings(url=url))
    engine = create_db_engine(settings.database)
    upgrade(engine)
    sessions = session_factory(engine)
    seed(sessions, n)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        with sessions() as session:
            data = collect(session, settings, NOW - timedelta(days=1), NOW, b"k")
        rendered = render(data, "ru", settings.timezone, NOW)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(200):
        run_once(sessions, "bench", NOW + timedelta(seconds=i), lambda: None, "bench")
    guard = (time.perf_counter() - start) / 200
    engine.dispose()
    return {
        "digest_ms": round(statistics.median(times) * 1000, 1),
        "guard_ms": round(guard * 1000, 2),
        "confirmed": data.confirmed_count,
        "pending": data.pending_count,
        "html_kb": round(len(rendered.html) / 1024, 1),
    }


def main() -> None:
    """Run on SQLite and, with --pg, on a throwaway PostgreSQL database."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument(
        "--pg", default=None, help="PostgreSQL server URL (a database is created and dropped)"
    )
    args = parser.parse_args()
    summary: dict[str, object] = {"items": args.items}
    with tempfile.TemporaryDirectory() as tmp:
        summary["sqlite"] = bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.items)
    if args.pg:
        name = f"bench_service_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = sa.make_url(normalize_url(args.pg)).set(database=name).render_as_string(hide_password=False)
            summary["postgres"] = bench(url, args.items)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
