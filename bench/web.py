"""Queue page latency: a moderator's queue page filtered by district with 100,000 items in PostgreSQL.

python -m bench.web [--items 100000] [--requests 200] [--pg URL]   (JSON summary on the last line)

Creates a private database, fills it with generate_series (incidents, posts, queue items over 20
districts, 30% still open), then times GET /?district=... through the whole app (routing, session
cookie, query, template) with an in-process client, and drops the database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
import uuid

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from monitor.core.config import DatabaseSettings, Settings, WebSettings
from monitor.core.db import create_db_engine, normalize_url, session_factory, upgrade
from monitor.review.users import create_user
from monitor.web import create_app

DISTRICTS = 20
FILL = [
    """INSERT INTO incident (created_at, first_seen_at, last_seen_at, region, district)
       SELECT now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval, now(),
              'Almaty Region', 'District ' || ((g / 10) % {d}) FROM generate_series(1, {n}) g""",
    """INSERT INTO post (platform, external_id, source_id, url, author, text, language, published_at, collected_at,
                         updated_at, media, extras, has_video, content_key, region, district, places,
                         has_education_context, incident_id)
       SELECT (ARRAY['telegram','vk','instagram','news'])[1 + g % 4], 'bench-' || g, NULL,
              'https://t.me/bench/' || g, 'author' || (g % 500),
              'Синтетический пост ' || g || ': в школе №' || (g % 90) || ' ученика избили на перемене',
              (ARRAY['ru','kk','en'])[1 + g % 3], now() - (g || ' minutes')::interval, now(), now(),
              '[]', '{{}}', g % 7 = 0, md5('bench' || g), 'Almaty Region', 'District ' || ((g / 10) % {d}), '[]', true, g
       FROM generate_series(1, {n}) g""",
    """INSERT INTO queue_item (incident_id, post_id, status, severity, severity_rank, score, category, categories,
                               model_version, region, district, school, platform, language, has_video, post_count,
                               created_at, updated_at)
       SELECT g, g, CASE WHEN g % 10 < 3 THEN 'new' WHEN g % 10 < 6 THEN 'confirmed' ELSE 'dismissed' END,
              (ARRAY['low','medium','high','critical'])[1 + g % 4], 1 + g % 4, 0.5 + (g % 50) / 100.0,
              (ARRAY['physical_violence','bullying','cyberbullying','extortion'])[1 + g % 4], '[]', 'bench-1',
              'Almaty Region', 'District ' || ((g / 10) % {d}), 'School No. ' || (g % 90),
              (ARRAY['telegram','vk','instagram','news'])[1 + g % 4], (ARRAY['ru','kk','en'])[1 + g % 3],
              g % 7 = 0, 1, now() - (g || ' minutes')::interval, now()
       FROM generate_series(1, {n}) g""",
    "ANALYZE",
]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Fill, measure, clean up; print the JSON summary last."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", default=os.environ.get("MONITOR_TEST_DATABASE_URL",
                                                       "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    name = f"bench_web_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(normalize_url(args.pg)).set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_db_engine(DatabaseSettings(url=url))
        upgrade(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL:
                conn.execute(sa.text(statement.format(n=args.items, d=DISTRICTS)))
        fill_s = time.perf_counter() - started
        sessions = session_factory(engine)
        create_user(sessions, "bench-mod", "moderator", "bench password")
        settings = Settings(database=DatabaseSettings(url=url),
                            web=WebSettings(session_secret=SecretStr("bench-" + "s" * 40)))
        app = create_app(settings, sessions)
        timings: dict[str, list[float]] = {"queue": [], "queue_page3": [], "api": [], "unfiltered": [], "category": []}
        with TestClient(app) as client:
            token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
            assert token
            client.post("/login", data={"name": "bench-mod", "password": "bench password",
                                        "csrf_token": token.group(1)})
            paths = {"queue": "/?district=District%20{i}", "queue_page3": "/?district=District%20{i}&page=3",
                     "api": "/api/items?district=District%20{i}", "unfiltered": "/?page={i}",
                     "category": "/?category=bullying&page={i}"}
            for i in range(1, 11):  # warm-up: connection pool, template compilation, choices cache
                client.get(paths["queue"].format(i=i))
            for n in range(args.requests):
                for key, path in paths.items():
                    t = time.perf_counter()
                    response = client.get(path.format(i=1 + n % DISTRICTS))
                    timings[key].append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, response.text[:200]
            rows = client.get("/?district=District%203").text.count('class="row ')
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    summary = {"items": args.items, "districts": DISTRICTS, "requests": args.requests, "fill_s": round(fill_s, 1),
               "rows_per_page": rows}
    for key, values in timings.items():
        summary[f"{key}_p50_ms"] = round(statistics.median(values), 1)
        summary[f"{key}_p95_ms"] = round(_p(values, 0.95), 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
