"""The dashboard: charts computed on the server and drawn as inline SVG (no chart library)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from monitor.core.vocab import Role
from monitor.review import stats
from monitor.web.render import page, tr
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
def dashboard(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """Flags and confirmations by day, district and category; queue age; throughput; precision; health."""
    web = request.app.state.web
    t = tr(request)
    with web.sessions() as session:
        context = {
            "daily": stats.daily(session, web.zone),
            "districts": stats.by_column(session, "district", web.zone),
            "categories": stats.by_column(session, "category", web.zone),
            "district_weeks": stats.weekly(session, "district", web.zone),
            "category_weeks": stats.weekly(session, "category", web.zone),
            "queue": stats.queue_size(session),
            "throughput": stats.throughput(session),
            "precision": stats.precision(session),
            "model_precision": stats.precision_by_model(session),
            "sources": stats.sources(session),
            "digests": stats.digest_runs(session),
            "category_label": lambda value: t.label("category", value),
        }
    return page(request, "dashboard.html", context)
