"""The shared HTTP client: retries, Retry-After, rate limit, robots.txt, conditional GET, size cap, charsets."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from monitor.core.config import HttpSettings
from monitor.core.errors import ScrapeError
from monitor.ingest.http import (
    HttpClient,
    ResponseTooLarge,
    RobotsDisallowed,
    decode_body,
    open_client,
    parse_retry_after,
)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(handler: Handler, time: FakeTime | None = None, **overrides: object) -> HttpClient:
    settings = HttpSettings(**{"rate_limit_per_host_s": 0.0, "max_retries": 3, "backoff_base_s": 1.0,
                               "max_response_bytes": 1_000_000, **overrides})
    client = open_client(settings, httpx.MockTransport(handler))
    if time is not None:
        client.sleep, client.clock = time.sleep, time.clock
    return client


def test_429_waits_for_retry_after_then_succeeds() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "7"})
        return httpx.Response(200, text="ok")

    time = FakeTime()
    response = make_client(handler, time).get("https://example.kz/a")
    assert response.body == b"ok"
    assert len(calls) == 2
    assert time.sleeps == [7.0]


def test_5xx_backs_off_exponentially_with_jitter_then_succeeds() -> None:
    statuses = iter([503, 502, 500, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), text="body")

    time = FakeTime()
    response = make_client(handler, time).get("https://example.kz/a")
    assert response.status == 200
    assert len(time.sleeps) == 3
    for attempt, slept in enumerate(time.sleeps):
        full = 2.0**attempt
        assert full / 2 <= slept <= full


def test_retries_exhausted_is_a_scrape_error_naming_the_status() -> None:
    time = FakeTime()
    client = make_client(lambda r: httpx.Response(503), time, max_retries=2)
    with pytest.raises(ScrapeError, match="HTTP 503") as info:
        client.get("https://example.kz/a", source="kz_news")
    assert "source kz_news" in str(info.value)
    assert len(time.sleeps) == 2


def test_retry_after_is_capped_by_backoff_max() -> None:
    time = FakeTime()
    answers = iter([httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200)])
    make_client(lambda r: next(answers), time, backoff_max_s=60.0).get("https://example.kz/a")
    assert time.sleeps == [60.0]


def test_404_is_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404)

    with pytest.raises(ScrapeError, match="HTTP 404"):
        make_client(handler, FakeTime()).get("https://example.kz/missing")
    assert len(calls) == 1


def test_connection_error_is_retried_then_reported() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, text="fine")

    assert make_client(handler, FakeTime()).get("https://example.kz/").body == b"fine"

    def always(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ScrapeError, match="ConnectError"):
        make_client(always, FakeTime(), max_retries=1).get("https://example.kz/")


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", 1445412480.0) == pytest.approx(30.0)
    assert parse_retry_after("soon", 0.0) is None
    assert parse_retry_after(None, 0.0) is None


def test_rate_limit_per_host() -> None:
    time = FakeTime()
    client = make_client(lambda r: httpx.Response(200), time, rate_limit_per_host_s=2.0)
    client.get("https://a.example.kz/1")
    client.get("https://b.example.kz/1")  # another host: no wait
    assert time.sleeps == []
    client.get("https://a.example.kz/2")
    assert time.sleeps == [pytest.approx(2.0)]


def test_user_agent_and_conditional_get() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, text="feed", headers={"ETag": '"v1"', "Last-Modified": "Tue, 20 Oct 2026 10:00:00 GMT"})

    client = make_client(handler, FakeTime(), user_agent="school-monitor-test/1")
    first = client.get("https://example.kz/feed")
    assert first.validators == {"etag": '"v1"', "last_modified": "Tue, 20 Oct 2026 10:00:00 GMT"}
    second = client.get("https://example.kz/feed", validators=first.validators)
    assert second.is_not_modified
    assert seen[1].headers["if-modified-since"] == "Tue, 20 Oct 2026 10:00:00 GMT"
    assert all(r.headers["user-agent"] == "school-monitor-test/1" for r in seen)


ROBOTS = "User-agent: *\nDisallow: /private/\n"


def test_robots_disallow_is_a_clear_error_and_fetched_once_per_host() -> None:
    robots_calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            robots_calls.append(1)
            return httpx.Response(200, text=ROBOTS)
        return httpx.Response(200, text="page")

    client = make_client(handler, FakeTime())
    assert client.get("https://school.example.kz/news", robots=True).body == b"page"
    with pytest.raises(RobotsDisallowed, match="robots.txt disallows"):
        client.get("https://school.example.kz/private/list", robots=True)
    assert len(robots_calls) == 1
    # Without robots=True (API endpoints, feeds) the file is not consulted.
    assert client.get("https://school.example.kz/private/list").body == b"page"


RFC_ROBOTS = """User-agent: *
Disallow: /news/
Allow: /news/public
Disallow: /*.pdf$
Disallow: /tmp*
"""


def _robots_client(redirects: dict[str, str] | None = None) -> HttpClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(200, text=RFC_ROBOTS)
        if redirects and request.url.path in redirects:
            return httpx.Response(302, headers={"Location": redirects[request.url.path]})
        return httpx.Response(200, text="page")

    return make_client(handler, FakeTime())


@pytest.mark.parametrize(("path", "allowed"), [
    ("/news/public/1", True),       # Allow after a broader Disallow: the longest rule wins (RFC 9309)
    ("/news/other", False),
    ("/docs/report.pdf", False),    # "*" and "$" wildcards
    ("/docs/report.pdf?x=1", True),
    ("/tmpfiles/a", False),
    ("/about", True),
])
def test_robots_follows_rfc_9309(path: str, allowed: bool) -> None:
    assert _robots_client().allowed(f"https://school.example.kz{path}") is allowed


def test_robots_are_checked_again_after_a_redirect() -> None:
    client = _robots_client({"/go": "/news/secret"})
    with pytest.raises(RobotsDisallowed, match="robots.txt disallows"):
        client.get("https://school.example.kz/go", robots=True)


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (503, False)])
def test_robots_missing_allows_and_unreachable_disallows(status: int, allowed: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(status)
        return httpx.Response(200, text="page")

    client = make_client(handler, FakeTime(), max_retries=0)
    assert client.allowed("https://example.kz/page") is allowed


def test_redirect_reported_when_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/s/chan":
            return httpx.Response(302, headers={"Location": "/chan"})
        return httpx.Response(200, text="landing")

    client = make_client(handler, FakeTime())
    response = client.get("https://t.me/s/chan", follow_redirects=False)
    assert response.redirect_to == "https://t.me/chan"
    assert client.get("https://t.me/s/chan").body == b"landing"


def test_10mb_page_is_capped_while_streaming() -> None:
    produced = []

    def chunks() -> Iterator[bytes]:
        for _ in range(160):  # 160 x 64 KiB = 10 MiB
            produced.append(1)
            yield b"x" * 65536

    client = make_client(lambda r: httpx.Response(200, content=chunks()), FakeTime(), max_response_bytes=1_000_000)
    with pytest.raises(ResponseTooLarge, match="1000000-byte cap"):
        client.get("https://example.kz/huge")
    # Reading stopped just past the cap: memory stayed bounded by it, not by the page.
    assert len(produced) <= 1_000_000 // 65536 + 2


def test_declared_length_over_cap_is_refused_before_reading() -> None:
    produced = []

    def chunks() -> Iterator[bytes]:
        produced.append(1)
        yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks(), headers={"Content-Length": str(10 * 1024 * 1024)})

    with pytest.raises(ResponseTooLarge, match="10485760 bytes"):
        make_client(handler, FakeTime()).get("https://example.kz/huge")
    assert produced == []


class _BigHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()  # no Content-Length: the client must stop by itself
        try:
            for _ in range(160):
                self.wfile.write(b"<p>" + b"y" * 65533)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.slow
def test_10mb_page_from_a_real_local_server_is_capped() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BigHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = open_client(HttpSettings(max_response_bytes=2_000_000, rate_limit_per_host_s=0, max_retries=0))
        with pytest.raises(ResponseTooLarge):
            client.get(f"http://127.0.0.1:{server.server_address[1]}/big")
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_decode_body_charsets() -> None:
    text = "Школа №5: қазақ тілі"
    # Declared wrongly as latin-1 but really UTF-8: valid UTF-8 wins.
    assert decode_body(text.encode("utf-8"), "text/html; charset=iso-8859-1") == text
    # No charset anywhere, windows-1251 bytes (common on older Russian-language school sites).
    assert decode_body("Школа №5".encode("cp1251"), "text/html") == "Школа №5"
    # Declared in a <meta> tag only.
    page = '<meta charset="koi8-r"><p>Школа</p>'.encode("koi8-r")
    assert "Школа" in decode_body(page, "")
    # An unknown charset name falls through instead of crashing.
    assert decode_body("Школа".encode("cp1251"), "text/html; charset=x-nonsense") == "Школа"


def test_rate_limit_holds_across_threads() -> None:
    time = FakeTime()
    client = make_client(lambda r: httpx.Response(200), time, rate_limit_per_host_s=2.0)
    client.sleep = lambda seconds: time.sleeps.append(seconds)  # the clock stands still: all start at once
    threads = [threading.Thread(target=client.get, args=("https://a.example.kz/x",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(time.sleeps) == [pytest.approx(2.0), pytest.approx(4.0), pytest.approx(6.0)]
