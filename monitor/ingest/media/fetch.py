"""Fetching a post's media: direct files through the shared HttpClient, video-platform pages through yt-dlp.

A post's media URL comes from the outside world, so it must not reach internal services: its host is
resolved and every address checked (loopback, private, link-local, reserved ranges are refused unless
`[media] allow_private_hosts`), and each redirect hop is checked again before it is followed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.core.config import HttpSettings, MediaSettings
from monitor.core.errors import MonitorError
from monitor.ingest.http import HttpClient, HttpStatusError, ResponseTooLarge, build_client

log = logging.getLogger(__name__)

Resolve = Callable[[str], Sequence[str]]
GONE_STATUSES = frozenset({404, 410})
MAX_REDIRECTS = 5
_EXT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime", "mkv": "video/x-matroska",
              "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class MediaFetchError(MonitorError):
    """A media file could not be fetched: `retry` says whether a later attempt may succeed, `gone` means
    the source answered 404/410 (deleted at source)."""

    def __init__(self, message: str, *, url: str, retry: bool = True, gone: bool = False) -> None:
        self.url = url
        self.retry = retry
        self.gone = gone
        super().__init__(f"{url}: {message}")


class RefusedURL(MediaFetchError):
    """The URL points at a host we do not fetch from (private address, bad scheme, disallowed type)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message, url=url, retry=False)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched media file."""

    url: str
    data: bytes
    content_type: str
    via: str  # http | yt-dlp


def system_resolve(host: str) -> list[str]:
    """Every address the host resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool, resolve: Resolve = system_resolve) -> None:
    """RefusedURL unless the URL is http(s) and (by default) every address of its host is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURL("only http(s) URLs with a host are fetched", url=url)
    if allow_private:
        return
    host = parts.hostname
    try:
        addresses: Sequence[str] = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host)
        if not addresses:
            raise MediaFetchError(f"host {host} does not resolve", url=url) from None
    private = [a for a in addresses if not _is_public(a)]
    if private:
        raise RefusedURL(f"host {host} resolves to a non-public address ({private[0]}); "
                         "set [media] allow_private_hosts = true to allow it", url=url)


def content_type_allowed(content_type: str, allowed: Sequence[str]) -> bool:
    """Whether a Content-Type matches one of the patterns ('video/*', 'image/jpeg')."""
    ct = content_type.split(";", 1)[0].strip().lower()
    for pattern in allowed:
        p = pattern.strip().lower()
        if ct == p or (p.endswith("/*") and ct.startswith(p[:-1])):
            return True
    return False


def open_media_client(http: HttpSettings, media: MediaSettings,
                      transport: httpx.BaseTransport | None = None) -> HttpClient:
    """An HttpClient for media: the shared settings with `[media] max_bytes` as the size cap per file."""
    settings = http.model_copy(update={"max_response_bytes": media.max_bytes})
    return HttpClient(build_client(settings, transport), settings)


def is_platform_page(url: str, hosts: Sequence[str]) -> bool:
    """Whether the URL is a page of a video platform (fetched with yt-dlp) rather than a media file."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in hosts)


class MediaFetcher:
    """Fetches one media URL with the checks above; the HttpClient is passed in (tests use MockTransport)."""

    def __init__(self, http: HttpClient, settings: MediaSettings, *, resolve: Resolve = system_resolve,
                 user_agent: str = "", proxy: str | None = None) -> None:
        self.http = http
        self.settings = settings
        self.resolve = resolve
        self.user_agent = user_agent or http.settings.user_agent
        self.proxy = proxy

    def fetch(self, url: str) -> Fetched:
        """The file behind a media URL; MediaFetchError (retry/gone/refused) when it cannot be had."""
        self._check(url)
        if is_platform_page(url, self.settings.ytdlp_hosts):
            return self._ytdlp(url)
        return self._direct(url)

    def _check(self, url: str) -> None:
        check_url(url, allow_private=self.settings.allow_private_hosts, resolve=self.resolve)

    def _direct(self, url: str) -> Fetched:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                response = self.http.get(current, follow_redirects=False, source="media")
            except HttpStatusError as e:
                gone = e.status in GONE_STATUSES
                raise MediaFetchError(f"HTTP {e.status}", url=current, gone=gone, retry=not gone) from e
            except ResponseTooLarge as e:
                raise MediaFetchError(f"file is larger than [media] max_bytes ({self.settings.max_bytes})",
                                      url=current, retry=False) from e
            except MonitorError as e:  # unreachable, too many retries: try again later
                raise MediaFetchError(str(e), url=current) from e
            if response.redirect_to:
                self._check(response.redirect_to)
                current = response.redirect_to
                continue
            if not content_type_allowed(response.content_type, self.settings.allowed_content_types):
                raise RefusedURL(f"content type {response.content_type or '(none)'} is not an allowed media type",
                                 url=current)
            return Fetched(current, response.body, response.content_type.split(";", 1)[0].strip().lower(), "http")
        raise MediaFetchError("too many redirects", url=url)

    def _ytdlp(self, url: str) -> Fetched:
        """A capped download of a platform page's video with yt-dlp (metadata + file, no login, no playlist)."""
        from yt_dlp import YoutubeDL
        from yt_dlp.utils import DownloadError, YoutubeDLError

        cap = self.settings.max_bytes
        with tempfile.TemporaryDirectory(prefix="monitor-media-") as tmp:
            opts: dict[str, Any] = {
                "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True,
                "max_filesize": cap, "outtmpl": str(Path(tmp) / "media.%(ext)s"),
                # The smallest file that still shows the scene: hashes and review need no more than 720p.
                "format": f"best[height<=720][filesize<?{cap}]/best[height<=720]/worst",
                "socket_timeout": self.http.settings.read_timeout_s, "retries": 1,
                "http_headers": {"User-Agent": self.user_agent}, "cachedir": False,
                "logger": _YtdlpLog(), "proxy": self.proxy or "",
            }
            try:
                with YoutubeDL(opts) as ydl:
                    info = ydl.extract_info(url, download=True)
            except DownloadError as e:
                text = str(e)
                gone = any(s in text for s in ("HTTP Error 404", "HTTP Error 410", "unavailable", "removed",
                                               "does not exist", "deleted"))
                raise MediaFetchError(f"yt-dlp: {text[:300]}", url=url, gone=gone, retry=not gone) from e
            except YoutubeDLError as e:
                raise MediaFetchError(f"yt-dlp: {str(e)[:300]}", url=url) from e
            files = [p for p in Path(tmp).iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
            if not files:
                raise MediaFetchError(f"yt-dlp downloaded nothing (over the {cap}-byte cap?)", url=url, retry=False)
            path = max(files, key=lambda p: p.stat().st_size)
            if path.stat().st_size > cap:
                raise MediaFetchError(f"file is larger than [media] max_bytes ({cap})", url=url, retry=False)
            data = path.read_bytes()
        ext = str((info or {}).get("ext") or path.suffix.lstrip(".")).lower()
        return Fetched(url, data, _EXT_TYPES.get(ext, "video/mp4"), "yt-dlp")


class _YtdlpLog:
    """yt-dlp's messages into our log (it would print to stdout otherwise)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.info("yt-dlp: %s", msg)
