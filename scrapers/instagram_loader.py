"""instaloader as a library: its session files, its own queries paced by our limits, its errors as ours."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import instaloader

from monitor.core.config import HttpSettings, InstagramSettings
from monitor.core.errors import ConfigError, ScrapeError
from monitor.ingest.http import HttpClient


class LoginWall(ScrapeError):
    """Instagram wants a logged-in viewer for this request (401/403, a login redirect or page)."""


class RateLimited(ScrapeError):
    """Instagram answered 429 or 'please wait a few minutes'."""


class PrivateAccount(ScrapeError):
    """The account is private and the viewer (if any) does not follow it."""


def load_session_cookies(settings: InstagramSettings) -> dict[str, str]:
    """Cookies of an instaloader session file (`instaloader --login USER` saves it); {} when none set."""
    if not settings.session_file:
        return {}
    path = Path(settings.session_file).expanduser()
    loader = instaloader.Instaloader(quiet=True, max_connection_attempts=1)
    try:
        with path.open("rb") as f:
            loader.context.load_session_from_file(settings.session_user or "viewer", f)  # type: ignore[no-untyped-call]
    except OSError as e:
        raise ConfigError(f"instagram.session_file: cannot read {path}: {e.strerror}") from None
    except (pickle.UnpicklingError, KeyError, TypeError, AttributeError, EOFError, ValueError) as e:
        # A file that is not a pickled instaloader session (no csrftoken, not a dict, truncated ...).
        raise ConfigError(f"instagram.session_file: {path} is not an instaloader session file ({e!r})") from None
    cookies = {k: v for k, v in loader.context._session.cookies.get_dict().items() if v is not None}
    loader.close()  # type: ignore[no-untyped-call]
    return cookies


def instaloader_posts(kind: str, name: str, http: HttpClient, settings: HttpSettings,
                      source: str | None = None) -> Iterator[Mapping[str, Any]]:
    """The real instaloader: its own session, queries and paging, paced by PerHostRateController."""
    loader = instaloader.Instaloader(
        quiet=True, download_pictures=False, download_videos=False, download_video_thumbnails=False,
        save_metadata=False, compress_json=False, max_connection_attempts=1,
        request_timeout=settings.read_timeout_s,
        rate_controller=lambda ctx: PerHostRateController(ctx, http, source))
    try:
        if settings.instagram.session_file:
            path = Path(settings.instagram.session_file).expanduser()
            with path.open("rb") as f:
                loader.context.load_session_from_file(  # type: ignore[no-untyped-call]
                    settings.instagram.session_user or "viewer", f)
        if kind == "tag":
            posts: Iterable[Any] = instaloader.Hashtag.from_name(loader.context, name).get_posts_resumable()
        else:
            posts = instaloader.Profile.from_username(loader.context, name).get_posts()
        for post in posts:
            yield post._asdict()
    finally:
        loader.close()  # type: ignore[no-untyped-call]


class PerHostRateController(instaloader.RateController):
    """instaloader's own sliding-window limits plus our per-host interval; a 429 fails the run instead of sleeping.

    instaloader sleeps through 429s for up to hours; a scheduled job must not, so a 429, or a wait
    longer than `http.backoff_max_s`, raises RateLimited and the source backs off (`backoff_until`).
    """

    def __init__(self, context: Any, http: HttpClient, source: str | None = None) -> None:
        super().__init__(context)
        self.http = http
        self.source = source

    def sleep(self, secs: float) -> None:
        """Wait through our client's sleep (injectable), refusing waits past backoff_max_s."""
        if secs > self.http.settings.backoff_max_s:
            raise RateLimited(f"instaloader's rate limits would wait {secs:.0f} s", source=self.source)
        self.http.sleep(secs)

    def wait_before_query(self, query_type: str) -> None:
        """instaloader's own wait, then our per-host interval for www.instagram.com."""
        super().wait_before_query(query_type)
        self.http.wait_turn("https://www.instagram.com/")

    def handle_429(self, query_type: str) -> None:
        """Fail the run on a 429 (the source backs off) instead of instaloader's long sleep."""
        raise RateLimited(f"Instagram rate limit (HTTP 429) on {query_type} queries", source=self.source)


def from_instaloader(error: Exception, source: str | None, url: str) -> ScrapeError:
    """Our error for an instaloader exception (or a ScrapeError raised by our rate controller)."""
    import instaloader.exceptions as ie

    if isinstance(error, ScrapeError):
        return error
    text = str(error)
    if isinstance(error, ie.TooManyRequestsException) or isinstance(error.__cause__, ie.TooManyRequestsException) \
            or (isinstance(error, ie.ConnectionException) and "429" in text):
        return RateLimited(f"Instagram rate limit: {text}", source=source, url=url)
    if isinstance(error, ie.PrivateProfileNotFollowedException):
        return PrivateAccount(f"the account is private and the session's viewer does not follow it: {text}",
                              source=source, url=url)
    if isinstance(error, (ie.LoginRequiredException, ie.LoginException, ie.QueryReturnedForbiddenException)):
        return LoginWall(f"Instagram asks for a login: {text}", source=source, url=url)
    if isinstance(error, (ie.ProfileNotExistsException, ie.QueryReturnedNotFoundException)):
        return ScrapeError(f"no such Instagram account or hashtag: {text}", source=source, url=url)
    if isinstance(error, ie.InstaloaderException):
        return ScrapeError(f"instaloader: {type(error).__name__}: {text}", source=source, url=url)
    if isinstance(error, OSError):
        return ScrapeError(f"instaloader: {error}", source=source, url=url)
    raise error
