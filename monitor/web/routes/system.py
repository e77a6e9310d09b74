"""Health, Prometheus metrics and the API reference page."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import select

from monitor.core import tables
from monitor.core.vocab import STATUSES, Role
from monitor.web.render import page
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """200 when the database answers, 503 otherwise (no sign-in needed)."""
    try:
        with request.app.state.web.sessions() as session:
            session.exec(select(sa.literal(1))).one()
    except sa.exc.SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})


class _QueueCollector(Collector):
    """Reads the queue and sources at scrape time, so the numbers are never stale."""

    def __init__(self, request: Request) -> None:
        self.sessions = request.app.state.web.sessions

    def collect(self) -> Any:
        items = GaugeMetricFamily("monitor_queue_items", "Queue items by status", labels=["status"])
        failing = GaugeMetricFamily("monitor_source_consecutive_failures", "Consecutive scrape failures",
                                    labels=["source"])
        with self.sessions() as session:
            counts = dict(session.exec(select(tables.QueueItem.status, sa.func.count())
                                       .group_by(tables.QueueItem.status)).all())
            for status in STATUSES:
                items.add_metric([status], float(counts.get(status, 0)))
            for name, failures in session.exec(select(tables.Source.name, tables.Source.consecutive_failures)):
                failing.add_metric([name], float(failures))
        yield items
        yield failing


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text format: queue items by status, source failures (no sign-in, no personal data)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_QueueCollector(request))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/docs")
def docs(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The API reference, rendered here from the OpenAPI schema (no remote Swagger assets)."""
    schema = request.app.openapi()
    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = [p.get("name", "") for p in op.get("parameters", [])]
            operations.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                               "description": op.get("description", ""), "params": params,
                               "body": "requestBody" in op})
    return page(request, "docs.html", {"operations": operations})


@router.get("/openapi.json", include_in_schema=False)
def openapi_json(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The OpenAPI schema (signed-in users only)."""
    return JSONResponse(request.app.openapi())
