"""The JSON API: list and get items, claim, decide, and POST /api/posts for outside collectors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field

from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import InputError
from monitor.core.i18n import N_
from monitor.core.posts import post_from_record
from monitor.core.vocab import DISMISS_REASONS, Role, Status
from monitor.review.claims import claim, claim_next
from monitor.review.detail import item_json, load_item
from monitor.review.queries import parse_query, queue_page
from monitor.review.queue import decide
from monitor.web.routes.queue import to_filter
from monitor.web.security import Actor, require

router = APIRouter(prefix="/api", tags=["api"])
MAX_POSTS_PER_REQUEST = 1000


class DecisionIn(BaseModel):
    """A decision on a queue item."""

    status: Literal[Status.CONFIRMED, Status.DISMISSED, Status.ESCALATED]
    reason: str | None = Field(None, description=f"required to dismiss: one of {', '.join(DISMISS_REASONS)}")
    note: str | None = Field(None, max_length=5000)


class IngestOut(BaseModel):
    """What POST /api/posts did with the batch."""

    received: int
    new: int
    updated: int
    unchanged: int
    linked: int
    classified: int
    enqueued: int


@router.get("/items", summary=N_("List queue items (same filters as the queue page)"),
             description=N_("Queue items under the same filters as the queue page (the query parameters are listed beside)."))
def list_items(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> dict[str, Any]:
    """Queue items matching status, severity, category, region, district, school, platform, language,
    date_from, date_to, has_video, sort, page."""
    web = request.app.state.web
    q = parse_query(dict(request.query_params))
    with web.sessions() as session:
        result = queue_page(session, q, web.settings.web.page_size, web.zone)
    items = [item_json(r.item, r.claimed_by) for r in result.rows]
    return {"items": items, "total": result.total, "page": result.page, "pages": result.pages,
            "counts": result.status_counts}


@router.get("/items/{item_id}", summary=N_("One queue item with its posts, verdict and decisions"),
             description=N_("The item in full; the view is audited like the item page."))
def get_item(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> dict[str, Any]:
    """The item in full; the view is audited like the item page."""
    web = request.app.state.web
    with transaction(web.sessions) as session:
        detail = load_item(session, item_id)
        record_audit(session, actor.name, "item.view", "queue_item", item_id, via="api")
    return item_json(detail.item, detail.claimed_by, detail)


@router.post("/items/{item_id}/claim", summary=N_("Claim an item (or renew your lease)"),
             description=N_("Claim; 409 when someone else holds it."))
def claim_item(item_id: int, request: Request,
               actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> dict[str, Any]:
    """Claim; 409 when someone else holds it."""
    web = request.app.state.web
    item = claim(web.sessions, actor.user, item_id, lease=web.settings.queue.lease)
    return {"id": item.id, "status": item.status, "lease_expires_at": item.lease_expires_at}


@router.post("/claim-next", summary=N_("Claim the most severe open item matching the filters"),
             description=N_("The claimed item's id, or null when nothing is left."))
def claim_next_item(request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> dict[str, Any]:
    """The claimed item's id, or null when nothing is left."""
    web = request.app.state.web
    q = parse_query(dict(request.query_params))
    item = claim_next(web.sessions, actor.user, filters=to_filter(q, request),
                      lease=web.settings.queue.lease)
    return {"id": item.id if item else None}


@router.post("/items/{item_id}/decide", summary=N_("Confirm, dismiss (with a reason) or escalate"),
             description=N_("Record the decision; 409 when another moderator holds the claim or it is already decided."))
def decide_item(item_id: int, decision: DecisionIn, request: Request,
                actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> dict[str, Any]:
    """Record the decision; 409 when another moderator holds the claim or it is already decided."""
    result = decide(request.app.state.web.sessions, actor.user, item_id, decision.status,
                    reason=decision.reason if decision.status == Status.DISMISSED else None, note=decision.note)
    return {"id": item_id, "status": result.status, "reason": result.reason}


@router.post("/posts", summary=N_("Ingest posts from a collector we do not run"),
             description=N_("Validate every record first (nothing is stored when one is bad), then run the batch through the pipeline."), response_model=IngestOut)
def ingest_posts(
    request: Request,
    actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
    records: Annotated[list[Any], Body(description="ingest-format post objects (as `monitor ingest` reads)")],
) -> IngestOut:
    """Validate every record first (nothing is stored when one is bad), then run the batch through the pipeline."""
    if not records:
        raise InputError("no posts given")
    if len(records) > MAX_POSTS_PER_REQUEST:
        raise InputError(f"at most {MAX_POSTS_PER_REQUEST} posts per request")
    posts = []
    for index, record in enumerate(records):
        try:
            posts.append(post_from_record(record))
        except ValueError as e:
            raise InputError(f"post {index}: {e}") from None
    web = request.app.state.web
    result = web.pipeline.ingest(posts)
    with transaction(web.sessions) as session:
        record_audit(session, actor.name, "api.ingest", "post", None, received=len(posts), new=result.new,
                     updated=result.updated, enqueued=result.enqueued)
    return IngestOut(received=len(posts), new=result.new, updated=result.updated, unchanged=result.unchanged,
                     linked=result.linked, classified=result.classified, enqueued=result.enqueued)
