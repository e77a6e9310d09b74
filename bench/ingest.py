"""Ingest throughput (SQLite, PostgreSQL) and claim latency under 20 concurrent claimers.

python -m bench.ingest [--posts 10000] [--pg URL]   (JSON summary on the last line)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, normalize_url, session_factory, upgrade
from monitor.core.places.gazetteer import Gazetteer
from monitor.core.posts import Media, Post
from monitor.ingest.pipeline import Pipeline
from monitor.review.claims import claim_next

PLACES = ["Талгаре", "Каскелене", "Қонаев қаласында", "Taldykorgan", "Есик", "Узынагаше", "Алматы"]
PHRASES = ["ученики школы №{n} провели олимпиаду", "{n}-мектеп оқушылары жарысқа қатысты",
           "в школе №{n} прошёл ремонт спортзала", "school No. {n} held a graduation ceremony",
           "в СОШ {n} родители жалуются на травлю ученика"]
BATCH = 500


def synthetic_posts(n: int) -> list[Post]:
    """n distinct short posts in ru/kk/en mentioning places and schools."""
    base = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        text = f"{PLACES[i % len(PLACES)]}: {PHRASES[i % len(PHRASES)].format(n=i % 180)} #{i}"
        out.append(Post(platform="telegram", external_id=f"bench/{i}", url=f"https://t.me/bench/{i}", text=text,
                        published_at=base + timedelta(seconds=i), author="bench",
                        media=(Media("photo", f"https://cdn.example/{i}.jpg"),) if i % 4 == 0 else ()))
    return out


def ingest_rate(url: str, posts: list[Post], settings: Settings) -> float:
    """Posts per second through Pipeline.ingest (gazetteer on, classifier excluded)."""
    engine = create_db_engine(DatabaseSettings(url=url, pool_size=4))
    upgrade(engine)
    pipeline = Pipeline(session_factory(engine), settings, places=Gazetteer.load(settings.places))
    start = time.perf_counter()
    for i in range(0, len(posts), BATCH):
        pipeline.ingest(posts[i:i + BATCH])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(posts) / elapsed


def claim_latency(url: str, items: int, workers: int) -> tuple[float, float, int]:
    """p50/p99 claim_next latency in ms with `workers` threads, and how many items were claimed twice."""
    from tests.helpers import make_items, make_user

    engine = create_db_engine(DatabaseSettings(url=url, pool_size=workers))
    sessions = session_factory(engine)
    make_items(sessions, items, severities=("low", "medium", "high", "critical"))
    users = [make_user(sessions, f"bench{i}") for i in range(workers)]
    latencies: list[float] = []
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)

    def work(user) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        while True:
            t0 = time.perf_counter()
            item = claim_next(sessions, user)
            dt = (time.perf_counter() - t0) * 1000
            if item is None:
                return
            with lock:
                latencies.append(dt)
                claimed.append(item.id or 0)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies), p99, len(claimed) - len(set(claimed))


def _truncate(url: str) -> None:
    from sqlmodel import SQLModel

    engine = create_db_engine(DatabaseSettings(url=url))
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--claims", type=int, default=2_000)
    parser.add_argument("--pg", default=os.environ.get("MONITOR_TEST_DATABASE_URL",
                                                      "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    settings = Settings()
    posts = synthetic_posts(args.posts)
    result: dict[str, object] = {"posts": args.posts, "batch": BATCH}
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite_posts_per_s"] = round(ingest_rate(f"sqlite:///{Path(tmp) / 'bench.db'}", posts, settings), 1)
    admin = sa.create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
    names = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        urls = [sa.make_url(normalize_url(args.pg)).set(database=n).render_as_string(hide_password=False)
                for n in names]
        result["postgres_posts_per_s"] = round(ingest_rate(urls[0], posts, settings), 1)
        engine = create_db_engine(DatabaseSettings(url=urls[1]))
        upgrade(engine)
        engine.dispose()
        p50, p99, doubles = claim_latency(urls[1], args.claims, 20)
        result.update(claim_p50_ms=round(p50, 2), claim_p99_ms=round(p99, 2), double_claims=doubles,
                      claimers=20, claim_items=args.claims)
        # The same items claimed by one moderator alone: the cost of a claim without contention.
        _truncate(urls[1])
        one_p50, one_p99, _ = claim_latency(urls[1], args.claims // 4, 1)
        result.update(single_claimer_p50_ms=round(one_p50, 2), single_claimer_p99_ms=round(one_p99, 2),
                      load_average_1m=round(os.getloadavg()[0], 2), cpus=os.cpu_count())
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    result["goals"] = {"sqlite_posts_per_s": 5000, "postgres_posts_per_s": 2000, "claim_p99_ms": 20,
                       "double_claims": 0}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
