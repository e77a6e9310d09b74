"""Sign in and out: the form, the per-address throttle and the session cookie; the rules live in review.users."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from monitor.core import tables
from monitor.review.users import LoginPolicy, authenticate, log_out, session_stamp
from monitor.web.render import page
from monitor.web.security import check_csrf

router = APIRouter(include_in_schema=False)
# One answer for a wrong password, an unknown name and a locked account: names are not revealed.
_FAILED = "wrong name or password (after several failures an account is locked for a while)"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return page(request, "login.html", {"next": _safe_next(next), "error": None})


def _attempt(request: Request, name: str, password: str) -> tables.User | None:
    web = request.app.state.web
    limits = web.settings.web
    policy = LoginPolicy(max_failures=limits.login_max_failures, lockout=timedelta(seconds=limits.login_lockout_s))
    return authenticate(web.sessions, name, password, policy)


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
    user = _attempt(request, name.strip(), password)
    if user is None:
        return page(request, "login.html", {"next": _safe_next(next), "error": _FAILED}, status_code=401)
    request.session.clear()
    request.session.update({"uid": user.id, "stamp": session_stamp(user)})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session server-side too (a signed-in caller must send the CSRF token)."""
    uid = request.session.get("uid")
    if isinstance(uid, int):
        await check_csrf(request)
        await run_in_threadpool(log_out, request.app.state.web.sessions, uid)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
