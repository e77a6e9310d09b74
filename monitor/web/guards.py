"""Boundary guards of the web app: database outages answer 503 (one log line per outage), odd ids 404."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.core.errors import DatabaseError, NotFound

log = logging.getLogger("monitor.web")
MAX_ROW_ID = 2**63 - 1  # the largest BIGINT / SQLite INTEGER key
RETRY_AFTER_S = 30
OUTAGE_MESSAGE = "the database is unavailable right now; the service keeps trying, try again in a minute"
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, DatabaseError,
)


class DatabaseWatch:
    """Tracks one outage at a time: logs when it starts and when it ends, never once per request."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        """A request met a database error: log it only when this starts an outage."""
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]
        log.error("database unavailable (%s: %s); answering 503 until it is back", type(orig).__name__, reason)

    def succeeded(self) -> None:
        """A statement ran: the outage, if any, is over."""
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning("database reachable again after %.0f s", time.monotonic() - since)


_current_watch: contextvars.ContextVar[DatabaseWatch | None] = contextvars.ContextVar("db_watch", default=None)


def _statement_ran(*_args: Any) -> None:
    watch = _current_watch.get()
    if watch is not None:
        watch.succeeded()


if not event.contains(Engine, "after_cursor_execute", _statement_ran):
    # Any engine: the context variable says which app (if any) is waiting to hear the database is back.
    event.listen(Engine, "after_cursor_execute", _statement_ran)


class WatchRequests:
    """ASGI middleware: makes the app's DatabaseWatch visible to statements run for this request."""

    def __init__(self, app: ASGIApp, watch: DatabaseWatch) -> None:
        self.app = app
        self.watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _current_watch.set(self.watch)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_watch.reset(token)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def install_outage_handling(app: FastAPI) -> DatabaseWatch:
    """503 with a short page or JSON error while the database is down; one log line per outage."""
    from monitor.web.render import page

    watch = DatabaseWatch()
    app.state.db_watch = watch
    app.add_middleware(WatchRequests, watch=watch)

    async def outage(request: Request, exc: Exception) -> Response:
        watch.failed(exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        if _wants_json(request):
            return JSONResponse({"detail": OUTAGE_MESSAGE}, status_code=503, headers=headers)
        response = page(request, "error.html", {"status": 503, "message": OUTAGE_MESSAGE}, status_code=503)
        response.headers.update(headers)
        return response

    for kind in OUTAGE_ERRORS:
        app.add_exception_handler(kind, outage)
    return watch


async def ids_in_range(request: Request) -> None:
    """An app-wide dependency: a path id no database row can have (0, negative, past BIGINT) is 404."""
    for name, raw in request.path_params.items():
        if not name.endswith("_id") or not isinstance(raw, str):
            continue
        text = raw.strip()
        digits = text.lstrip("+-")
        if digits.isdigit() and (text.startswith("-") or len(digits) > 19 or not 1 <= int(digits) <= MAX_ROW_ID):
            raise NotFound(f"no such {name.removesuffix('_id')}")
