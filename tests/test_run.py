"""`monitor run` as a user starts it: serves the web app, runs the scheduler, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.model
def test_run_serves_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/m.db"\n[web]\nport = {port}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    base = [sys.executable, "-m", "monitor", "--config", str(config)]
    subprocess.run([*base, "db", "upgrade"], check=True, cwd=ROOT, env=env, capture_output=True, timeout=120)
    proc = subprocess.Popen([*base, "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "service did not come up"
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False).status_code in (302, 303, 307)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        assert "scheduler started" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
