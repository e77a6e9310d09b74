"""Recorded responses served through httpx.MockTransport, and the golden-file loader."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from monitor.core.config import HttpSettings, SourceSettings
from monitor.ingest.http import HttpClient, open_client

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "http"
Route = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixture(rel: str) -> bytes:
    """Raw bytes of tests/fixtures/http/<rel>."""
    return (FIXTURES / rel).read_bytes()


def expected(rel: str) -> dict[str, Any]:
    """The golden expectation beside a fixture: <name>.expected.json."""
    path = (FIXTURES / rel).with_suffix(".expected.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class Recorded:
    """A MockTransport handler answering 'host/path?query' keys from a table; records every request."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = request.url
        keys = [f"{url.host}{url.path}?{url.query.decode()}", f"{url.host}{url.path}"]
        for key in keys:
            if key in self.routes:
                route = self.routes[key]
                return route(request) if callable(route) else route
        return httpx.Response(404, text=f"no recorded response for {keys[0]}")

    def paths(self) -> list[str]:
        """host/path?query of every request made, in order."""
        return [f"{r.url.host}{r.url.path}" + (f"?{r.url.query.decode()}" if r.url.query else "")
                for r in self.requests]


def http_client(recorded: Recorded, **overrides: Any) -> HttpClient:
    """An HttpClient over the recorded responses: no waiting between requests, no real sleeps."""
    settings = HttpSettings(**{"rate_limit_per_host_s": 0.0, "max_retries": 1, "backoff_base_s": 0.0, **overrides})
    client = open_client(settings, httpx.MockTransport(recorded))
    client.sleep = lambda seconds: None
    return client


def html(body: bytes, status: int = 200, **headers: str) -> httpx.Response:
    """An HTML response."""
    return httpx.Response(status, content=body, headers={"Content-Type": "text/html; charset=utf-8", **headers})


def source(name: str, platform: str, target: str, **kwargs: Any) -> SourceSettings:
    """A source as it would come from config.toml."""
    return SourceSettings(name=name, platform=platform, target=target, **kwargs)
