"""Admin pages: users (add, role, lock, passwords, API tokens), and the sources and thresholds in effect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from monitor.core.errors import InputError
from monitor.core.tables import utcnow
from monitor.core.vocab import ROLES, Role
from monitor.ingest.scrape import list_sources
from monitor.review import users as accounts
from monitor.web.render import flash, page, tr
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)


def _admin_page(request: Request, new_token: tuple[str, str] | None = None) -> Response:
    web = request.app.state.web
    users = accounts.list_users(web.sessions)
    tokens = accounts.list_tokens(web.sessions)
    return page(request, "admin.html", {"users": users, "tokens": [t for t, _ in tokens],
                                        "names": {t.user_id: name for t, name in tokens}, "roles": ROLES,
                                        "sources": list_sources(web.sessions),
                                        "configured": web.settings.sources,
                                        "classifier": web.settings.classifier, "new_token": new_token,
                                        "now": utcnow()})


@router.get("/admin")
def admin_view(request: Request, actor: Annotated[Actor, Depends(require(Role.ADMIN))]) -> Response:
    """Users with their tokens; sources and thresholds (set in config.toml)."""
    return _admin_page(request)


@router.post("/admin/users")
def add_user(request: Request, actor: Annotated[Actor, Depends(require(Role.ADMIN))],
             name: Annotated[str, Form(max_length=100)], role: Annotated[str, Form()],
             password: Annotated[str, Form(max_length=1000)]) -> Response:
    """Create a user."""
    accounts.create_user(request.app.state.web.sessions, name, role, password)
    t = tr(request)
    flash(request, t.gettext("User %(name)s added as %(role)s.") % {"name": name, "role": t.label("role", role)}, "ok")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}")
def change_user(request: Request, user_id: int, actor: Annotated[Actor, Depends(require(Role.ADMIN))],
                action: Annotated[str, Form()], role: Annotated[str | None, Form()] = None,
                password: Annotated[str | None, Form(max_length=1000)] = None) -> Response:
    """Change role, deactivate, reactivate, unlock or reset the password of a user; issue an API token."""
    web = request.app.state.web
    t = tr(request)
    name = accounts.user_name(web.sessions, user_id)
    if action == "role":
        accounts.set_role(web.sessions, name, role or "", actor=actor.name)
        flash(request, t.gettext("%(name)s is now %(role)s.") % {"name": name, "role": t.label("role", role)}, "ok")
    elif action == "token":
        # Shown once in this response; never put in the session cookie, which the browser keeps.
        token = accounts.create_api_token(web.sessions, name, label=f"web by {actor.name}")
        return _admin_page(request, new_token=(name, token))
    elif action in ("deactivate", "activate"):
        accounts.set_active(web.sessions, name, action == "activate", actor=actor.name)
        done = t.gettext("activated") if action == "activate" else t.gettext("deactivated")
        flash(request, f"{name}: {done}", "ok")
    elif action == "unlock":
        accounts.unlock(web.sessions, name, actor=actor.name)
        flash(request, f"{name}: {t.gettext('unlocked')}", "ok")
    elif action == "password":
        accounts.set_password(web.sessions, name, password or "", actor=actor.name)
        flash(request, f"{name}: {t.gettext('password changed; their sessions ended')}", "ok")
    else:
        raise InputError(f"unknown action {action!r}")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, actor: Annotated[Actor, Depends(require(Role.ADMIN))]) -> Response:
    """Revoke an API token."""
    accounts.revoke_token(request.app.state.web.sessions, token_id, actor=actor.name)
    flash(request, tr(request).gettext("Token %(id)s revoked.") % {"id": token_id}, "ok")
    return RedirectResponse("/admin", status_code=303)
