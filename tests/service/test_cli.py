"""`monitor digest`, `monitor jobs`, `monitor retention` as separate processes (each call is a restart)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.tables import DigestRun
from tests.service.conftest import SmtpServer
from tests.service.seed import seed_digest

ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, db_url: str, port: int, recipients: str = '["media@edu.example.kz"]') -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[web]\nbase_url = "https://monitor.example.kz"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout_s = 5\n'
        f"[digest]\nrecipients = {recipients}\n",
        encoding="utf-8",
    )
    return path


def monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_digest_commands(
    db_url: str, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer], tmp_path: Path
) -> None:
    server = smtp_server()
    config = write_config(tmp_path, db_url, server.port)
    seed_digest(sessions, datetime.now(UTC))

    out = tmp_path / "digest.html"
    preview = monitor(config, "digest", "--preview", "--out", str(out))
    assert preview.returncode == 0, preview.stderr
    assert "Карасай" in out.read_text(encoding="utf-8") and '<html lang="ru">' in out.read_text(encoding="utf-8")
    assert server.inbox.messages == []
    text = monitor(config, "digest", "--preview")
    assert text.stdout.startswith("Subject: Сводка school-monitor") and "Талдыкорган" in text.stdout

    first = monitor(config, "digest", "--send")
    assert (first.returncode, first.stdout.strip()) == (0, "default: sent"), first.stderr
    second = monitor(config, "digest", "--send")
    assert second.returncode == 0 and "already sent today" in second.stdout
    assert len(server.inbox.messages) == 1
    forced = monitor(config, "digest", "--send", "--force")
    assert forced.stdout.strip() == "default: sent"
    assert len(server.inbox.messages) == 2

    status = monitor(config, "digest", "--status")
    assert " default " in status.stdout and "sent" in status.stdout and "attempts=2" in status.stdout
    with sessions() as session:
        assert len(session.exec(select(DigestRun)).all()) == 1

    usage = monitor(config, "digest")
    assert usage.returncode == 2 and "give one of --preview, --send or --status" in usage.stderr


@pytest.mark.slow
def test_send_failure_and_missing_recipients_are_clear_errors(
    db_url: str, smtp_server: Callable[..., SmtpServer], tmp_path: Path
) -> None:
    down = smtp_server(running=False)
    failed = monitor(write_config(tmp_path, db_url, down.port), "digest", "--send")
    assert failed.returncode == 1
    assert "default: failed (attempt 1; retried by the service)" in failed.stdout
    assert failed.stderr.strip().splitlines()[-1] == "error: digest not sent to default"
    assert "Traceback" not in failed.stderr + failed.stdout

    nobody = write_config(tmp_path, db_url, down.port, "[]")
    none = monitor(nobody, "digest", "--send")
    assert none.returncode == 1 and none.stderr.startswith("error: no digest recipients configured")
    # A preview needs no recipients.
    preview = monitor(nobody, "digest", "--preview")
    assert preview.returncode == 0 and preview.stdout.startswith("Subject: Сводка school-monitor"), preview.stderr


@pytest.mark.slow
def test_retention_and_jobs_commands(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, db_url, 25)
    rules = monitor(config, "retention")
    assert rules.returncode == 0 and json.loads(rules.stdout)["dismissed_days"] == 90
    purged = monitor(config, "retention", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["job_run"] == 0
    jobs = monitor(config, "jobs")
    assert jobs.returncode == 0, jobs.stderr
    assert jobs.stdout == ""  # no job has run in this database yet
