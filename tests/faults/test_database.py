"""Database faults: 503 (short page / JSON, one log line per outage) and recovery without a restart;
the CLI on a read-only or unplaceable database: one line, exit 2; `monitor run` leaves a line when it dies."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from monitor.core.config import DatabaseSettings, Settings
from monitor.core.db import create_db_engine, normalize_url, session_factory
from monitor.review.users import create_api_token, create_user
from monitor.web import create_app
from tests.faults.proxy import TcpProxy
from tests.test_cli import ROOT, monitor

RECORD = {"platform": "instagram", "external_id": "f1", "url": "https://instagram.com/p/f1",
          "text": "В школе №4 травля", "published_at": "2026-11-02T10:00:00+05:00"}


def _web_settings(url: str) -> Settings:
    settings = Settings(database=DatabaseSettings(url=url))
    web = settings.web.model_copy(update={"session_secret": SecretStr("s" * 40)})
    return settings.model_copy(update={"web": web})


@pytest.fixture
def proxied_pg(pg_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """The test PostgreSQL database reached through a forwarder the test can cut."""
    url = make_url(normalize_url(pg_url))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    proxy.stop()


def _outage_lines(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.name == "monitor.web")


def test_postgres_down_gives_503_then_recovers_without_restart(proxied_pg: tuple[str, TcpProxy],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    url, proxy = proxied_pg
    engine = create_db_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    create_user(sessions, "mod", "moderator", "correct horse battery")
    token = create_api_token(sessions, "mod")
    app = create_app(_web_settings(url), sessions)
    auth = {"Authorization": f"Bearer {token}"}
    caplog.set_level(logging.INFO, logger="monitor.web")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/items", headers=auth).status_code == 200
        proxy.stop()  # PostgreSQL "stopped": open connections dropped, new ones refused
        for _ in range(3):
            api = client.get("/api/items", headers=auth)
            assert api.status_code == 503 and api.headers["retry-after"]
            assert "database is unavailable" in api.json()["detail"]
            html = client.get("/", headers=auth)
            assert html.status_code == 503 and "Traceback" not in html.text and len(html.text) < 20_000
            assert client.get("/healthz").status_code == 503
        assert _outage_lines(caplog, "database unavailable") == 1
        proxy.start()  # "started" again: the same app answers without a restart
        assert client.get("/api/items", headers=auth).status_code == 200
        assert client.get("/", headers=auth).status_code == 200
        assert _outage_lines(caplog, "database reachable again") == 1
        proxy.stop()
        assert client.get("/api/items", headers=auth).status_code == 503
        assert _outage_lines(caplog, "database unavailable") == 2  # a second outage, a second line
        proxy.start()
        assert client.get("/api/items", headers=auth).status_code == 200
    engine.dispose()


def test_terminated_backends_are_replaced_silently(pg_url: str) -> None:
    engine = create_db_engine(DatabaseSettings(url=pg_url))
    sessions = session_factory(engine)
    create_user(sessions, "mod", "moderator", "correct horse battery")
    token = create_api_token(sessions, "mod")
    app = create_app(_web_settings(pg_url), sessions)
    name = make_url(normalize_url(pg_url)).database
    admin = sa.create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
    with TestClient(app, raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/items", headers=auth).status_code == 200
        with admin.connect() as conn:
            killed = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": name}).scalar()
        assert killed and killed >= 1
        assert client.get("/api/items", headers=auth).status_code == 200  # pre-ping replaced the dead connection
    admin.dispose()
    engine.dispose()


def test_sqlite_read_only_answers_503_for_writes(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite file mode")
    path = make_url(db_url).database
    rw = session_factory(create_db_engine(DatabaseSettings(url=db_url)))
    create_user(rw, "mod", "moderator", "correct horse battery")
    token = create_api_token(rw, "mod")
    ro_url = f"sqlite:///file:{path}?mode=ro&uri=true"
    ro = session_factory(create_db_engine(DatabaseSettings(url=ro_url)))
    app = create_app(_web_settings(ro_url), ro)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/posts", json=[RECORD], headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.text[:300]


def test_cli_on_read_only_sqlite_is_one_line_exit_2(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite file mode")
    path = make_url(db_url).database
    config = tmp_path / "ro.toml"
    config.write_text(f'[database]\nurl = "sqlite:///file:{path}?mode=ro&uri=true"\n', encoding="utf-8")
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps(RECORD) + "\n", encoding="utf-8")
    result = monitor("ingest", str(data), config=config)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: database: attempt to write a readonly database"]


def test_cli_on_an_unplaceable_database_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/afile/sub/m.db"\n', encoding="utf-8")
    result = monitor("db", "upgrade", config=config)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot create the database folder")


def test_cli_with_postgres_refusing_is_one_line_exit_2(tmp_path: Path) -> None:
    proxy = TcpProxy("127.0.0.1", 9)  # never started: its port refuses connections
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "postgresql://postgres@127.0.0.1:{proxy.port}/test"\n', encoding="utf-8")
    result = monitor("queue", "list", config=config)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_monitor_run_killed_by_a_fatal_signal_leaves_a_line(db_url: str, tmp_path: Path) -> None:
    # SIGBUS is what SQLite's memory-mapped -shm file raises when it becomes unwritable underneath us.
    from tests.service.conftest import free_port

    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n[web]\nport = {free_port()}\n'
                      '[scheduler]\nenabled = false\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        seen = ""
        while "Uvicorn running" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "Uvicorn running" in seen, seen
        proc.send_signal(signal.SIGBUS)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "Fatal Python error: Bus error" in err


def test_postgres_stopped_and_started_under_monitor_run(proxied_pg: tuple[str, TcpProxy], tmp_path: Path) -> None:
    """The whole service as deployed: 503 while PostgreSQL is away, one log line for the outage,
    answers again once it is back, no restart."""
    import threading

    import httpx

    from tests.service.conftest import free_port

    url, proxy = proxied_pg
    engine = create_db_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    create_user(sessions, "mod", "moderator", "correct horse battery")
    token = create_api_token(sessions, "mod")
    engine.dispose()
    port = free_port()
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[web]\nport = {port}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_SESSION_SECRET"] = "s" * 40
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    started = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Uvicorn running" in line:
                started.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert started.wait(120), "".join(lines)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
            assert client.get("/api/items").status_code == 200
            proxy.stop()
            statuses = [client.get("/api/items").status_code for _ in range(4)]
            statuses.append(client.get("/").status_code)
            assert statuses == [503] * 5
            proxy.start()
            assert client.get("/api/items").status_code == 200
            assert client.get("/").status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        reader.join(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
    log = "".join(lines)
    assert log.count("monitor.web: database unavailable") == 1, log[-3000:]
    assert log.count("monitor.web: database reachable again") == 1
    assert "Traceback" not in log, log[-3000:]
    assert proc.returncode == 0
