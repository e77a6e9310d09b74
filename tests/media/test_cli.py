"""`monitor media fetch` as its own process, over a real HTTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import Settings
from monitor.core.posts import Media, Post
from monitor.core.tables import MediaItem, QueueItem
from monitor.core.tables import Post as PostRow
from monitor.ingest.pipeline import Pipeline
from monitor.review.queue import decide
from tests.fakes import KeywordClassifier, TablePlaces
from tests.helpers import make_user

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _config(tmp_path: Path, db_url: str, private: bool) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[http]\nrate_limit_per_host_s = 0\nmax_retries = 0\n'
        f'[media]\ndir = "{tmp_path / "archive"}"\nallow_private_hosts = {str(private).lower()}\n',
        encoding="utf-8")
    return path


def _monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_media_fetch_command(settings: Settings, sessions: sessionmaker[Session], tmp_path: Path,
                             local_server: str, db_url: str) -> None:
    pipeline = Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces())
    pipeline.ingest([Post("telegram", "1", "https://t.me/c/1", "В школе №12 Каскелена избили ученика", T0,
                          media=(Media("video", local_server + "/original.mp4"),))])
    with sessions() as session:
        item = session.exec(select(QueueItem)).one()
    decide(sessions, make_user(sessions), item.id or 0, "confirmed")
    pipeline.ingest([Post("tiktok", "2", "https://tiktok.example/2", "жесть 😳", T0 + timedelta(hours=5),
                          media=(Media("video", local_server + "/boxed.mp4"),))])

    refused = _monitor(_config(tmp_path, db_url, private=False), "media", "fetch", "--json")
    assert refused.returncode == 0, refused.stderr
    assert json.loads(refused.stdout.splitlines()[-1])["refused"] == 2  # loopback: refused by default
    with sessions() as session:
        assert {m.status for m in session.exec(select(MediaItem))} == {"refused"}
        for m in session.exec(select(MediaItem)):
            session.delete(m)
        session.commit()

    done = _monitor(_config(tmp_path, db_url, private=True), "media", "fetch", "--limit", "10")
    assert done.returncode == 0, done.stderr
    assert "fetched 2" in done.stdout and f"joined queue item {item.id}" in done.stdout
    assert "same video, " in done.stdout
    with sessions() as session:
        repost = session.exec(select(PostRow).where(PostRow.external_id == "2")).one()
    assert repost.incident_id == item.incident_id
