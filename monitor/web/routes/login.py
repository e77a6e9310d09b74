"""Sign in and out: the form, the per-address throttle and the session cookie; the rules live in review.users."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from monitor.core import tables
from monitor.core.i18n import N_, normalize_language
from monitor.core.vocab import Role
from monitor.review.users import LoginPolicy, authenticate, log_out, session_stamp, set_language
from monitor.web.render import page, tr
from monitor.web.security import Actor, check_csrf, require

router = APIRouter(include_in_schema=False)
# One answer for a wrong password, an unknown name and a locked account: names are not revealed.
_FAILED = N_("Wrong name or password (after several failures an account is locked for a while).")
_THROTTLED = N_("Too many sign-in attempts from this address; wait a few minutes.")


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str | None = None, lang: str | None = None) -> Response:
    """The sign-in form, in the browser's language (Accept-Language) unless `?lang=` chose one."""
    chosen = normalize_language(lang)
    if chosen:
        request.session["lang"] = chosen
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
        return page(request, "login.html", {"next": _safe_next(next), "error": tr(request).gettext(_THROTTLED)},
                    status_code=429)
    user = _attempt(request, name.strip(), password)
    if user is None:
        return page(request, "login.html", {"next": _safe_next(next), "error": tr(request).gettext(_FAILED)},
                    status_code=401)
    chosen = request.session.get("lang")
    request.session.clear()
    request.session.update({"uid": user.id, "stamp": session_stamp(user)})
    if chosen and not user.language:
        request.session["lang"] = chosen
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


@router.post("/profile/language", dependencies=[Depends(check_csrf)])
def choose_language(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))],
                    language: Annotated[str, Form()], back: Annotated[str | None, Form()] = None) -> Response:
    """Keep the reader's interface language on their account and go back to the page they were on."""
    chosen = normalize_language(language)
    set_language(request.app.state.web.sessions, actor.id, chosen)
    request.session["lang"] = chosen
    referer = request.headers.get("referer", "")
    target = back or (referer.split(str(request.base_url).rstrip("/"), 1)[-1] if referer else "/")
    return RedirectResponse(_safe_next(target), status_code=303)
