"""Who is asking: signed-cookie sessions, API tokens, roles, CSRF, login throttling, security headers."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.core import tables
from monitor.core.db import transaction
from monitor.core.vocab import Role, role_at_least
from monitor.review.users import session_stamp, user_for_token

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class LoginRequired(Exception):
    """No valid session or token: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this (403)."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token (403)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in user as the routes see them; `user` is the detached row the queue functions take."""

    id: int
    name: str
    role: str
    user: tables.User = field(repr=False, compare=False)
    via_token: bool = False

    def can(self, role: Role) -> bool:
        """True when this user's role is at least `role`."""
        return role_at_least(self.role, role)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose token (header or form field) is not the session's."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        raise CsrfRefused("the form has expired or did not come from this site: reload the page and try again")


def _token_actor(request: Request) -> Actor | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with transaction(request.app.state.web.sessions) as session:
        user = user_for_token(session, token.strip())
        if user is None or user.id is None:
            raise LoginRequired("invalid or revoked API token")
        return Actor(user.id, user.name, user.role, user, via_token=True)


def _session_actor(request: Request) -> Actor | None:
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    with transaction(request.app.state.web.sessions) as session:
        user = session.get(tables.User, user_id)
        # Logout, a password or role change or deactivation ends existing sessions: the stamp no longer matches.
        if user is None or not user.is_active or request.session.get("stamp") != session_stamp(user):
            request.session.clear()
            return None
        assert user.id is not None
        return Actor(user.id, user.name, user.role, user)


def current_actor(request: Request) -> Actor:
    """The caller (API token or session); LoginRequired when there is none."""
    cached = getattr(request.state, "actor", None)
    if isinstance(cached, Actor):
        return cached
    actor = _token_actor(request) or _session_actor(request)
    if actor is None:
        raise LoginRequired("sign in first")
    request.state.actor = actor
    return actor


def require(role: Role) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency: the caller must hold `role`; cookie-authenticated writes must carry the CSRF token."""

    async def dependency(request: Request) -> Actor:
        # The lookup touches the database: keep it off the event loop.
        actor = await run_in_threadpool(current_actor, request)
        if not actor.via_token:
            await check_csrf(request)
        if not actor.can(role):
            raise Forbidden(f"this needs the {role} role; you are {actor.role}")
        return actor

    return dependency


@dataclass
class LoginThrottle:
    """Per-address attempt limit (in this process) on top of the per-user lockout stored in the database."""

    max_attempts: int = 20
    window_s: float = 300.0
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, address: str, now: float | None = None) -> bool:
        """Record an attempt from `address`; False when it is over the limit."""
        now = time.monotonic() if now is None else now
        attempts = self._seen.setdefault(address, deque())
        while attempts and attempts[0] <= now - self.window_s:
            attempts.popleft()
        if len(attempts) >= self.max_attempts:
            return False
        attempts.append(now)
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window_s}
        return True


class SecurityHeaders:
    """ASGI middleware: CSP and friends on every response; no caching of pages that show posts."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"cross-origin-opener-policy": b"same-origin",
                }
                if not is_static:
                    extra[b"cache-control"] = b"no-store"
                if self.https:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra.items() if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
