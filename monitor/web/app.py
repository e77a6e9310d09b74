"""create_app(settings): the FastAPI app, its shared parts, error handling and middleware."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from monitor.core.config import Settings
from monitor.core.errors import InputError, MonitorError, NotFound, QueueError
from monitor.ingest.pipeline import Pipeline
from monitor.web.guards import ids_in_range, install_outage_handling
from monitor.web.messages import translate_error
from monitor.web.render import STATIC_DIR, make_templates, page, tr
from monitor.web.security import CsrfRefused, Forbidden, LoginRequired, LoginThrottle, SecurityHeaders

log = logging.getLogger(__name__)
SESSION_COOKIE = "monitor_session"


@dataclass
class WebContext:
    """What every route needs, held on app.state.web (no module-level globals)."""

    settings: Settings
    sessions: sessionmaker[Session]
    templates: Jinja2Templates
    zone: ZoneInfo
    pipeline: Pipeline
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return (path.startswith("/api/") or path == "/openapi.json"
            or "application/json" in request.headers.get("accept", ""))


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    shown = translate_error(tr(request), message)
    return page(request, "error.html", {"status": status, "message": shown}, status_code=status)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(MonitorError)
    async def monitor_error(request: Request, exc: MonitorError) -> Response:
        status = {InputError: 400, NotFound: 404, QueueError: 409}.get(type(exc), 500)
        if status == 500:
            log.error("request %s failed: %s", request.url.path, exc)
            return _error(request, 500, "the server could not do this; the error is in the service log")
        return _error(request, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(request, 422, f"{where}: {first.get('msg', 'invalid input')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))


def _session_secret(settings: Settings) -> str:
    if settings.web.session_secret is not None and settings.web.session_secret.get_secret_value():
        return settings.web.session_secret.get_secret_value()
    log.warning("MONITOR_SESSION_SECRET is not set: using a random secret, so sign-ins do not survive a "
                "restart and do not work across several processes")
    return secrets.token_urlsafe(48)


def create_app(
    settings: Settings,
    sessions: sessionmaker[Session] | None = None,
    *,
    pipeline: Pipeline | None = None,
) -> FastAPI:
    """The review web app; `sessions` defaults to the configured database.

    POST /api/posts stores through `pipeline` (built by service.parts). Without one the app
    stores posts unclassified and the worker's classify-backlog job scores them, so serving the
    web pages never loads the classifier."""
    from monitor.web.routes import admin, api, dashboard, discovery, item, login, queue, system
    from monitor.web.routes import media as media_routes

    if sessions is None:
        from monitor.core.db import create_db_engine, session_factory

        sessions = session_factory(create_db_engine(settings.database))
    if pipeline is None:
        from monitor.service.parts import build_pipeline

        pipeline = build_pipeline(settings, sessions, classify=False)
    app = FastAPI(title="school-monitor", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None, description="Review queue and ingest API of school-monitor.",
                  dependencies=[Depends(ids_in_range)])
    app.state.web = WebContext(settings=settings, sessions=sessions, templates=make_templates(settings.timezone),
                               zone=ZoneInfo(settings.timezone),
                               pipeline=pipeline)
    https = settings.web.base_url.startswith("https://")
    app.add_middleware(SessionMiddleware, secret_key=_session_secret(settings), session_cookie=SESSION_COOKIE,
                       max_age=settings.web.session_max_age_s, same_site="lax", https_only=https)
    app.add_middleware(SecurityHeaders, https=https)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, queue, item, media_routes, dashboard, admin, discovery, api, system):
        app.include_router(module.router)
    _install_handlers(app)
    install_outage_handling(app)
    return app
