"""The `monitor` command as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]


def monitor(*args: str, config: Path | None = None, stdin: str = "", env: dict | None = None):
    """Run `python -m monitor` in a subprocess and return the completed process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "monitor"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True, cwd=ROOT,
                          env=full_env, timeout=120)


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/m.db"\n', encoding="utf-8")
    return path


def test_help_lists_commands():
    result = monitor("--help")
    assert result.returncode == 0
    for command in ("run", "web", "db", "users", "ingest", "queue"):
        assert command in result.stdout


def test_config_error_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\nport = 'x'\n", encoding="utf-8")
    result = monitor("db", "upgrade", config=bad)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "smtp.port" in result.stderr and str(bad) in result.stderr
    assert "Traceback" not in result.stderr
    missing = monitor("queue", "list", config=tmp_path / "none.toml")
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_unreachable_database_masks_password(config):
    result = monitor("db", "upgrade", config=config,
                     env={"MONITOR_DATABASE_URL": "postgresql://bob:hunter2@127.0.0.1:1/x"})
    assert result.returncode == 2
    assert "bob:***@127.0.0.1:1/x" in result.stderr and "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_unmigrated_database_says_what_to_run(config):
    result = monitor("queue", "list", config=config)
    assert result.returncode == 2 and "monitor db upgrade" in result.stderr


def test_users_and_ingest_round_trip(config, tmp_path):
    assert monitor("db", "upgrade", config=config).returncode == 0
    added = monitor("users", "add", "aigul", "--role", "moderator", "--password-stdin", config=config,
                    stdin="long enough password\n")
    assert added.returncode == 0, added.stderr
    assert monitor("users", "add", "aigul", "--role", "moderator", "--password-stdin", config=config,
                   stdin="long enough password\n").returncode == 1
    assert monitor("users", "add", "x", "--role", "boss", "--password-stdin", config=config).returncode == 2
    assert monitor("users", "set-role", "aigul", "admin", config=config).returncode == 0
    assert "aigul\tadmin" in monitor("users", "list", config=config).stdout

    good = {"platform": "instagram", "external_id": "C1", "url": "https://instagram.com/p/C1",
            "text": "В школе №4 Талгара травля", "published_at": "2026-11-02T10:00:00+05:00",
            "media": [{"type": "video", "url": "https://cdn.example/v.mp4"}]}
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        json.dumps({**good, "external_id": "C2", "published_at": "yesterday"}),
        json.dumps({k: v for k, v in good.items() if k != "url"}),
        json.dumps({**good, "external_id": "C3", "published_at": "2026-11-02T10:00:00"}),
    ]
    data = tmp_path / "export.jsonl"
    data.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken\n")
    result = monitor("ingest", "--no-classify", str(data), config=config)
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert errors[0].startswith(f"{data}:line 2: not JSON")
    assert errors[1].startswith(f"{data}:line 3: not an ISO 8601 timestamp")
    assert errors[2] == f"{data}:line 4: missing field url"
    assert errors[3].startswith(f"{data}:line 5: timestamp has no UTC offset")
    assert errors[4].startswith(f"{data}:line 6: not UTF-8")
    assert "new 1," in result.stdout
    again = tmp_path / "good.jsonl"
    again.write_text(lines[0] + "\n", encoding="utf-8")
    second = monitor("ingest", "--no-classify", str(again), config=config)
    assert second.returncode == 0 and "new 0, updated 0, unchanged 1" in second.stdout
    assert monitor("ingest", str(tmp_path / "missing.jsonl"), config=config).returncode == 2


def test_queue_commands_on_empty_queue(config):
    assert monitor("db", "upgrade", config=config).returncode == 0
    listed = monitor("queue", "list", "--json", config=config)
    assert listed.returncode == 0 and listed.stdout == ""
    shown = monitor("queue", "show", "42", config=config)
    assert shown.returncode == 1 and "queue item 42 does not exist" in shown.stderr


def test_account_commands_are_the_same_rules_the_admin_page_uses(config, tmp_path):
    from monitor.core.config import load_settings
    from monitor.core.db import create_db_engine, session_factory
    from monitor.core.tables import User
    from monitor.review.users import LoginPolicy, authenticate

    assert monitor("db", "upgrade", config=config).returncode == 0
    assert monitor("users", "add", "dana", "--role", "moderator", "--password-stdin", config=config,
                   stdin="first password\n").returncode == 0
    changed = monitor("users", "set-password", "dana", "--password-stdin", config=config, stdin="second password\n")
    assert changed.returncode == 0, changed.stderr
    short = monitor("users", "set-password", "dana", "--password-stdin", config=config, stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr and "Traceback" not in short.stderr
    sessions = session_factory(create_db_engine(load_settings(config, {}).database))
    policy = LoginPolicy(max_failures=5, lockout=timedelta(minutes=15))
    assert authenticate(sessions, "dana", "first password", policy) is None
    assert authenticate(sessions, "dana", "second password", policy) is not None
    assert monitor("users", "deactivate", "dana", config=config).returncode == 0
    assert authenticate(sessions, "dana", "second password", policy) is None
    assert monitor("users", "activate", "dana", config=config).returncode == 0
    for _ in range(5):
        authenticate(sessions, "dana", "wrong", policy)
    assert authenticate(sessions, "dana", "second password", policy) is None  # locked
    assert monitor("users", "unlock", "dana", config=config).returncode == 0
    assert authenticate(sessions, "dana", "second password", policy) is not None
    token = monitor("users", "token", "dana", config=config).stdout.strip()
    listed = monitor("users", "tokens", config=config).stdout
    token_id = listed.split("\t")[0]
    assert token.startswith("smt_") and "\tdana\t" in listed
    assert monitor("users", "revoke-token", token_id, config=config).returncode == 0
    assert monitor("users", "tokens", config=config).stdout.strip() == ""
    with sessions() as session:
        generation = session.exec(select(User.session_generation).where(User.name == "dana")).one()
    assert generation == 3  # password, deactivation, activation each ended the sessions


def test_web_on_a_busy_port_is_one_line_exit_2(config):
    import socket

    assert monitor("db", "upgrade", config=config).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = monitor("web", "--port", str(port), config=config)
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port} is not available" in result.stderr and "Traceback" not in result.stderr
