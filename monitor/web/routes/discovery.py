"""Admin page "Suggested sources": channels and accounts flagged posts point at, with one-click add/dismiss."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from monitor.core.vocab import Role
from monitor.ingest.discovery import config_entry, decide, decisions, suggest
from monitor.web.render import flash, page, tr
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)


@router.get("/admin/suggestions")
def suggestions_view(request: Request, actor: Annotated[Actor, Depends(require(Role.ADMIN))],
                     days: int = 90) -> Response:
    """Ranked suggestions and the decisions taken so far."""
    web = request.app.state.web
    days = max(1, min(days, 3650))
    found = suggest(web.sessions, web.settings, days=days, limit=100, places=web.pipeline.places)
    decided = decisions(web.sessions)
    return page(request, "suggestions.html", {"found": found, "decided": decided, "days": days,
                                              "config_entry": config_entry})


@router.post("/admin/suggestions")
def decide_suggestion(request: Request, actor: Annotated[Actor, Depends(require(Role.ADMIN))],
                      platform: Annotated[str, Form(max_length=40)], handle: Annotated[str, Form(max_length=200)],
                      action: Annotated[str, Form()], score: Annotated[float, Form()] = 0.0,
                      flagged_posts: Annotated[int, Form()] = 0) -> Response:
    """Add (as a disabled config entry) or dismiss one suggestion; audited."""
    status = {"add": "added", "dismiss": "dismissed"}.get(action, action)
    row = decide(request.app.state.web.sessions, platform, handle, status, actor=actor.name, score=score,
                 flagged_posts=flagged_posts)
    t = tr(request)
    names = {"platform": row.platform, "handle": row.handle}
    if row.status == "added":
        flash(request, t.gettext("%(platform)s %(handle)s added, disabled: paste its entry into config.toml and "
                                 "enable it after a look at the source") % names, "ok")
    else:
        flash(request, t.gettext("%(platform)s %(handle)s dismissed") % names, "ok")
    return RedirectResponse("/admin/suggestions", status_code=303)
