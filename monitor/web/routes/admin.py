"""Admin pages: users (add, role, lock, API tokens), and the sources and thresholds in effect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from monitor.core import tables
from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound
from monitor.review.queue import record_audit
from monitor.core.tables import ROLES, utcnow
from monitor.review.users import create_api_token, create_user, set_role
from monitor.web.render import flash, page
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)


@router.get("/admin")
def admin_view(request: Request, actor: Annotated[Actor, Depends(require("admin"))]) -> Response:
    """Users with their tokens; sources and thresholds (set in config.toml)."""
    web = request.app.state.web
    with web.sessions() as session:
        users = list(session.exec(select(tables.User).order_by(col(tables.User.name))))
        tokens = list(session.exec(select(tables.ApiToken).where(col(tables.ApiToken.revoked_at).is_(None))
                                   .order_by(col(tables.ApiToken.created_at))))
        sources = list(session.exec(select(tables.Source).order_by(col(tables.Source.name))))
    names = {u.id: u.name for u in users}
    new_token = request.session.pop("new_token", None)
    return page(request, "admin.html", {"users": users, "tokens": tokens, "names": names, "roles": ROLES,
                                        "sources": sources, "configured": web.settings.sources,
                                        "classifier": web.settings.classifier, "new_token": new_token,
                                        "now": utcnow()})


@router.post("/admin/users")
def add_user(request: Request, actor: Annotated[Actor, Depends(require("admin"))],
             name: Annotated[str, Form(max_length=100)], role: Annotated[str, Form()],
             password: Annotated[str, Form(max_length=1000)]) -> Response:
    """Create a user."""
    create_user(request.app.state.web.sessions, name, role, password)
    flash(request, f"user {name} added as {role}", "ok")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}")
def change_user(request: Request, user_id: int, actor: Annotated[Actor, Depends(require("admin"))],
                action: Annotated[str, Form()], role: Annotated[str | None, Form()] = None) -> Response:
    """Change role, deactivate, reactivate or unlock a user; issue an API token."""
    web = request.app.state.web
    with web.sessions() as session:
        user = session.get(tables.User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} does not exist")
        name = user.name
    if action == "role":
        set_role(web.sessions, name, role or "", actor=actor.name)
        flash(request, f"{name} is now {role}", "ok")
    elif action == "token":
        request.session["new_token"] = [name, create_api_token(web.sessions, name, label=f"web by {actor.name}")]
    elif action in ("deactivate", "activate", "unlock"):
        if user_id == actor.id and action == "deactivate":
            raise InputError("you cannot deactivate yourself")
        with transaction(web.sessions) as session:
            user = session.get(tables.User, user_id)
            assert user is not None
            if action == "unlock":
                user.locked_until, user.failed_logins = None, 0
            else:
                user.is_active = action == "activate"
            session.add(user)
            record_audit(session, actor.name, f"user.{action}", "user", user_id)
        flash(request, f"{name}: {action}d", "ok")
    else:
        raise InputError(f"unknown action {action!r}")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, actor: Annotated[Actor, Depends(require("admin"))]) -> Response:
    """Revoke an API token."""
    with transaction(request.app.state.web.sessions) as session:
        token = session.get(tables.ApiToken, token_id)
        if token is None:
            raise NotFound(f"token {token_id} does not exist")
        token.revoked_at = utcnow()
        session.add(token)
        record_audit(session, actor.name, "token.revoke", "user", token.user_id, token_id=token_id)
    flash(request, f"token {token_id} revoked", "ok")
    return RedirectResponse("/admin", status_code=303)
