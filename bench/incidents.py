"""Incident grouping cost: flagged posts per second through assign_incident (SQLite, no encoder).

python -m bench.incidents [--posts 5000] [--batch 500]   (JSON summary on the last line)
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, session_factory, transaction, upgrade
from monitor.core.tables import Incident, Post
from monitor.ingest.incidents.store import assign_incident

TOWNS = [("Karasai", "Kaskelen", "в Каскелене"), ("Talgar", "Talgar", "в Талгаре"), ("Konaev", "Konaev", "в Конаеве"),
         ("Taldykorgan", "Taldykorgan", "в Талдыкоргане"), ("Enbekshikazakh", "Esik", "в Есике")]
STORIES = ["избили ученика {g} класса у школы №{n}", "девочки из {g} класса подрались в школе №{n}",
           "учитель школы №{n} ударил ученика {g} класса", "старшеклассники вымогали деньги у ученика школы №{n}"]


def main() -> None:
    """Store posts (a third are reposts of an earlier one), then group them batch by batch."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(5)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database=DatabaseSettings(url=f"sqlite:///{Path(tmp) / 'bench.db'}"))
        engine = create_db_engine(settings.database)
        upgrade(engine)
        sessions = session_factory(engine)
        texts: list[tuple[str, tuple[str, str, str]]] = []
        with transaction(sessions) as session:
            for i in range(args.posts):
                if texts and rng.random() < 0.33:
                    text, town = rng.choice(texts[-200:])
                    text = "😡 Репост: " + text + " #школа"
                else:
                    town = rng.choice(TOWNS)
                    story = rng.choice(STORIES).format(g=rng.randint(5, 11), n=rng.randint(1, 60))
                    text = f"{town[2].capitalize()} {story}, история {i}"
                texts.append((text, town))
                session.add(Post(platform="telegram", external_id=f"c/{i}", url=f"https://t.me/c/{i}", text=text,
                                 language="ru", published_at=base + timedelta(minutes=3 * i), content_key=f"{i:064d}",
                                 region="Almaty Region", district=town[0], town=town[1]))
        started = time.perf_counter()
        for first in range(0, args.posts, args.batch):
            with transaction(sessions) as session:
                rows = session.exec(select(Post).where(Post.id > first, Post.id <= first + args.batch)).all()
                for row in rows:
                    assign_incident(session, row, settings=settings)
        elapsed = time.perf_counter() - started
        with sessions() as session:
            incidents = len(session.exec(select(Incident.id)).all())
        engine.dispose()
    print(json.dumps({"posts": args.posts, "batch": args.batch, "seconds": round(elapsed, 2),
                      "posts_per_s": round(args.posts / elapsed), "incidents": incidents}))


if __name__ == "__main__":
    main()
