"""Issue 11: the login throttle believes X-Forwarded-For only from `[web] trusted_proxies` (none by default)."""

from __future__ import annotations

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from monitor.cli.serve import proxy_options
from monitor.core.config import WebSettings
from monitor.web.security import LoginThrottle
from tests.web.conftest import csrf_of


def _served(app: FastAPI, trusted: tuple[str, ...]) -> TestClient:
    """The app as `monitor run` hands it to uvicorn (uvicorn's own proxy middleware when configured)."""
    proxy_headers, allow_ips = proxy_options(trusted)
    config = uvicorn.Config(app, proxy_headers=proxy_headers, forwarded_allow_ips=allow_ips, log_config=None)
    config.load()
    return TestClient(config.loaded_app, client=("127.0.0.1", 40000))


def _statuses(client: TestClient, n: int) -> list[int]:
    token = csrf_of(client.get("/login").text)
    return [client.post("/login", data={"name": "nobody", "password": "wrong", "csrf_token": token},
                        headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(n)]


def test_forwarded_for_from_a_local_client_is_ignored_by_default(app: FastAPI) -> None:
    app.state.web.throttle = LoginThrottle(max_attempts=2)
    with _served(app, ()) as client:
        assert _statuses(client, 4) == [401, 401, 429, 429]


def test_forwarded_for_from_a_trusted_proxy_is_believed(app: FastAPI) -> None:
    app.state.web.throttle = LoginThrottle(max_attempts=2)
    with _served(app, ("127.0.0.1",)) as client:
        assert _statuses(client, 4) == [401, 401, 401, 401]


def test_trusted_proxies_must_be_addresses() -> None:
    assert WebSettings(trusted_proxies=("10.0.0.0/8", "::1")).trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(ValidationError):
        WebSettings(trusted_proxies=("*",))
