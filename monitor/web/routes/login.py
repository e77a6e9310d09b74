"""Sign in and out: argon2 passwords, per-user lockout, per-address throttle, CSRF on the form too."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from monitor.core import tables
from monitor.core.db import transaction
from monitor.review.queue import record_audit
from monitor.core.tables import utcnow
from monitor.review.users import hash_password, verify_password
from monitor.web.render import page
from monitor.web.security import check_csrf, session_stamp

router = APIRouter(include_in_schema=False)
# Verifying against a fixed hash for unknown names keeps the answer time the same as for real ones.
_DUMMY_HASH = hash_password("not-a-real-password-0")
_FAILED = "wrong name or password"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return page(request, "login.html", {"next": _safe_next(next), "error": None})


def _attempt(request: Request, name: str, password: str) -> tables.User | str:
    web = request.app.state.web
    limits = web.settings.web
    now = utcnow()
    with transaction(web.sessions) as session:
        user = session.exec(select(tables.User).where(tables.User.name == name)).first()
        if user is None or not user.is_active:
            verify_password(_DUMMY_HASH, password)
            return _FAILED
        if user.locked_until is not None and user.locked_until > now:
            local = user.locked_until.astimezone(web.zone).strftime("%H:%M")
            return f"too many failed sign-ins: this account is locked until {local}"
        if not verify_password(user.password_hash, password):
            user.failed_logins += 1
            detail: dict[str, object] = {"failures": user.failed_logins}
            if user.failed_logins >= limits.login_max_failures:
                user.locked_until = now + timedelta(seconds=limits.login_lockout_s)
                user.failed_logins = 0
                detail["locked_until"] = user.locked_until.isoformat()
            session.add(user)
            record_audit(session, name, "auth.login_failed", "user", user.id, **detail)
            return _FAILED
        user.failed_logins = 0
        user.locked_until = None
        session.add(user)
        record_audit(session, user.name, "auth.login", "user", user.id)
        return user


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success start a fresh session (new CSRF token) and go to `next`."""
    web = request.app.state.web
    address = request.client.host if request.client else "?"
    if not web.throttle.allow(address):
        return page(request, "login.html", {"next": _safe_next(next), "error":
                    "too many sign-in attempts from this address; wait a few minutes"}, status_code=429)
    result = _attempt(request, name.strip(), password)
    if isinstance(result, str):
        return page(request, "login.html", {"next": _safe_next(next), "error": result}, status_code=401)
    request.session.clear()
    request.session.update({"uid": result.id, "stamp": session_stamp(result)})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (a signed-in caller must send the CSRF token, so no other site can sign them out)."""
    uid = request.session.get("uid")
    if isinstance(uid, int):
        await check_csrf(request)
        await run_in_threadpool(_audit_logout, request, uid)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _audit_logout(request: Request, uid: int) -> None:
    with transaction(request.app.state.web.sessions) as session:
        user = session.get(tables.User, uid)
        if user is not None:
            record_audit(session, user.name, "auth.logout", "user", user.id)
