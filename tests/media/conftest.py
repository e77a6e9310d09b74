"""Media test fixtures: the test videos (encoded once per session), a media host over httpx.MockTransport."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from monitor.core.config import MediaSettings, Settings
from monitor.ingest.media.archive import DiskArchive
from monitor.ingest.media.fetch import MediaFetcher, open_media_client
from tests.media import videos

PUBLIC_IP = "93.184.216.34"  # a public address (example.com) standing in for a CDN in the resolver fake


@pytest.fixture(scope="session")
def clips() -> dict[str, bytes]:
    """The original scene, its three reposted variants, and three unrelated scenes (all real H.264 MP4)."""
    original = videos.encode(videos.scene(1))
    return {
        "original": original,
        "half": videos.reencode(original, videos.half_size),
        "boxed": videos.reencode(original, videos.boxed_under_caption),
        "late": videos.reencode(original, videos.starting_later(1.0)),
        "other_a": videos.encode(videos.scene(2)),
        "other_b": videos.encode(videos.scene(3)),
        "other_c": videos.encode(videos.scene(4)),
    }


class MediaHost:
    """Files served by path over a MockTransport; records the requests, answers 404/410/500 on demand."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.status: dict[str, int] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if url in self.redirects:
            return httpx.Response(302, headers={"location": self.redirects[url]})
        if url in self.status:
            return httpx.Response(self.status[url])
        if url not in self.files:
            return httpx.Response(404)
        body, ctype = self.files[url]
        return httpx.Response(200, content=body, headers={"content-type": ctype})


def media_settings(settings: Settings, tmp_path: Path, **update: object) -> Settings:
    """The test settings with a temporary archive, no rate-limit waits and one HTTP retry."""
    media = MediaSettings(dir=str(tmp_path / "media"), **update)  # type: ignore[arg-type]
    http = settings.http.model_copy(update={"rate_limit_per_host_s": 0.0, "max_retries": 1, "backoff_base_s": 0.0})
    return settings.model_copy(update={"media": media, "http": http})


@pytest.fixture
def host() -> MediaHost:
    """An empty media host."""
    return MediaHost()


@pytest.fixture
def make_fetcher(host: MediaHost) -> Iterator[Callable[[Settings], MediaFetcher]]:
    """fetcher(settings): a real MediaFetcher over the mock host; hostnames resolve to a public address."""
    made: list[MediaFetcher] = []

    def make(settings: Settings, resolve: Callable[[str], list[str]] | None = None) -> MediaFetcher:
        http = open_media_client(settings.http, settings.media, httpx.MockTransport(host.handler))
        http.sleep = lambda s: None
        fetcher = MediaFetcher(http, settings.media, resolve=resolve or (lambda h: [PUBLIC_IP]))
        made.append(fetcher)
        return fetcher

    yield make
    for f in made:
        f.http.close()


@pytest.fixture
def archive(tmp_path: Path) -> DiskArchive:
    """A disk archive in the test's temp dir."""
    return DiskArchive(tmp_path / "media")


@pytest.fixture
def local_server(tmp_path: Path, clips: dict[str, bytes]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving the clips as <name>.mp4 (and clip.mp4)."""
    root = tmp_path / "www"
    root.mkdir()
    for name, data in clips.items():
        (root / f"{name}.mp4").write_bytes(data)
    (root / "clip.mp4").write_bytes(clips["original"])

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def age_archive(archive: DiskArchive, seconds: float = 7200) -> None:
    """Date every archived file back (the sweep leaves files younger than an hour: fetches in flight)."""
    import os
    import time

    when = time.time() - seconds
    for sha in archive.list():
        os.utime(archive.path(sha), (when, when))
