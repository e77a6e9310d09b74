"""The shared HTTP client: timeouts, UA, per-host rate limit, retries with backoff, robots.txt, size cap."""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from monitor.config import HttpSettings
from monitor.errors import ScrapeError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


class ResponseTooLarge(ScrapeError):
    """The response body went past `http.max_response_bytes`; reading stopped there."""


class Unreachable(ScrapeError):
    """The host could not be reached (connect error, timeout) even after the retries."""


class HttpStatusError(ScrapeError):
    """The server answered with an error status (4xx, or 5xx after the retries); `status` holds it."""

    def __init__(self, message: str, *, status: int, source: str | None = None, url: str | None = None) -> None:
        self.status = status
        super().__init__(message, source=source, url=url)


class RobotsDisallowed(ScrapeError):
    """robots.txt of the host forbids our user agent to fetch the URL."""


@dataclass(frozen=True, slots=True)
class Response:
    """A finished response: body read in full (within the size cap), final URL, fetch time."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    fetched_at: datetime
    redirect_to: str | None = None

    @property
    def content_type(self) -> str:
        """The Content-Type header ('' when absent)."""
        return self.headers.get("content-type", "")

    @property
    def is_not_modified(self) -> bool:
        """True for 304 answers to a conditional GET."""
        return self.status == 304

    @property
    def validators(self) -> dict[str, str]:
        """ETag / Last-Modified of this response, to send back on the next conditional GET."""
        out = {}
        if self.headers.get("etag"):
            out["etag"] = self.headers["etag"]
        if self.headers.get("last-modified"):
            out["last_modified"] = self.headers["last-modified"]
        return out

    def text(self) -> str:
        """The body decoded (see `decode_body`)."""
        return decode_body(self.body, self.content_type)


def decode_body(body: bytes | str, content_type: str = "") -> str:
    """Decode a page: valid UTF-8 wins over a wrong declared charset; then header/meta charset; then cp1251."""
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:4096])
    for name in (declared.group(1) if declared else None, meta.group(1).decode("ascii") if meta else None):
        if name:
            try:
                return body.decode(name)
            except (LookupError, UnicodeDecodeError):
                continue
    # Kazakh and Russian sites that do not say their charset are nearly always windows-1251.
    return body.decode("cp1251", errors="replace")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def build_client(settings: HttpSettings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client with the configured timeouts, User-Agent and proxy (transport for tests)."""
    timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
    return httpx.Client(
        timeout=timeout,
        headers={"User-Agent": settings.user_agent},
        proxy=settings.proxy if transport is None else None,
        transport=transport,
        follow_redirects=False,
    )


@dataclass
class HttpClient:
    """Polite fetching shared by every scraper; clock and sleep are injectable for tests."""

    client: httpx.Client
    settings: HttpSettings
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    _next_slot: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _robots: dict[str, urllib.robotparser.RobotFileParser | None] = field(default_factory=dict)

    def close(self) -> None:
        """Close the underlying httpx client."""
        self.client.close()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        validators: Mapping[str, str] | None = None,
        robots: bool = False,
        follow_redirects: bool = True,
        source: str | None = None,
    ) -> Response:
        """GET with rate limit, retries and size cap; 304 comes back as a Response, other 4xx as ScrapeError."""
        request_headers = dict(headers or {})
        if validators:
            if validators.get("etag"):
                request_headers["If-None-Match"] = validators["etag"]
            if validators.get("last_modified"):
                request_headers["If-Modified-Since"] = validators["last_modified"]
        if robots and self.settings.respect_robots and not self.allowed(url, source=source):
            raise RobotsDisallowed("robots.txt disallows this URL", source=source, url=url)
        for _hop in range(6):
            response = self._get_with_retries(url, params, request_headers, source)
            location = response.headers.get("location")
            if response.status in (301, 302, 303, 307, 308) and location:
                target = str(httpx.URL(response.url).join(location))
                if not follow_redirects:
                    return Response(response.url, response.status, response.headers, response.body,
                                    response.fetched_at, redirect_to=target)
                url, params = target, None
                continue
            if response.status >= 400:
                raise HttpStatusError(f"HTTP {response.status}", status=response.status, source=source,
                                      url=response.url)
            return response
        raise ScrapeError("too many redirects", source=source, url=url)

    def allowed(self, url: str, *, source: str | None = None) -> bool:
        """Whether robots.txt of the URL's host lets our user agent fetch it (fetched once per host)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = self._load_robots(origin, source)
        parser = self._robots[origin]
        return True if parser is None else parser.can_fetch(self.settings.user_agent, url)

    def _load_robots(self, origin: str, source: str | None) -> urllib.robotparser.RobotFileParser | None:
        robots_url = f"{origin}/robots.txt"
        parser = urllib.robotparser.RobotFileParser(robots_url)
        try:
            response = self._get_with_retries(robots_url, None, {}, source)
        except ResponseTooLarge:
            return None
        # RFC 9309: an unreachable robots.txt (5xx) means "disallow all"; a missing one (4xx) "allow all".
        if response.status >= 500:
            parser.parse(["User-agent: *", "Disallow: /"])
            return parser
        if response.status >= 300:
            return None
        parser.parse(decode_body(response.body, response.content_type).splitlines())
        return parser

    def _get_with_retries(
        self, url: str, params: Mapping[str, str | int] | None, headers: dict[str, str], source: str | None
    ) -> Response:
        attempt = 0
        while True:
            self._wait_turn(url)
            try:
                response = self._get_once(url, params, headers, source)
            except httpx.TransportError as e:
                if attempt >= self.settings.max_retries:
                    raise Unreachable(f"{type(e).__name__}: {e}", source=source, url=url) from e
                self.sleep(self.backoff(attempt, None))
                attempt += 1
                continue
            if response.status in RETRY_STATUSES and attempt < self.settings.max_retries:
                retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
                self.sleep(self.backoff(attempt, retry_after))
                attempt += 1
                continue
            return response

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt`: Retry-After when given, else exponential with jitter."""
        cap = self.settings.backoff_max_s
        if retry_after is not None:
            return float(min(retry_after, cap))
        delay = float(min(cap, self.settings.backoff_base_s * 2**attempt))
        # "Equal jitter": at least half the exponential delay, so clients that failed together spread out.
        return delay / 2 + self.rng.uniform(0, delay / 2)

    def _wait_turn(self, url: str) -> None:
        host = urlsplit(url).netloc.lower()
        # Scheduled jobs share one client from several threads: each request reserves its slot under
        # the lock and sleeps outside it, so two sources on one host still keep the interval.
        with self._lock:
            now = self.clock()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self.settings.rate_limit_per_host_s
        if slot > now:
            self.sleep(slot - now)

    def _get_once(
        self, url: str, params: Mapping[str, str | int] | None, headers: dict[str, str], source: str | None
    ) -> Response:
        cap = self.settings.max_response_bytes
        with self.client.stream("GET", url, params=params, headers=headers) as r:
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise ResponseTooLarge(f"response of {declared} bytes is over the {cap}-byte cap",
                                       source=source, url=str(r.url))
            chunks = bytearray()
            for chunk in r.iter_bytes():
                chunks += chunk
                if len(chunks) > cap:
                    raise ResponseTooLarge(f"response is over the {cap}-byte cap", source=source, url=str(r.url))
            return Response(
                url=str(r.url),
                status=r.status_code,
                headers={k.lower(): v for k, v in r.headers.items()},
                body=bytes(chunks),
                fetched_at=datetime.now(UTC),
            )


def open_client(settings: HttpSettings, transport: httpx.BaseTransport | None = None) -> HttpClient:
    """An HttpClient over a new httpx client built from the settings (close it when done)."""
    return HttpClient(build_client(settings, transport), settings)
