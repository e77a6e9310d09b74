"""The item page: evidence, media, snapshot, scores, the incident's posts, history; claim and decide."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from monitor.core import tables
from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound, QueueError
from monitor.core.tables import utcnow
from monitor.core.vocab import CATEGORIES, FINAL_STATUSES, Role, Status
from monitor.ingest.incidents.corrections import merge_items
from monitor.ingest.incidents.store import split_incident
from monitor.ingest.media.evidence import item_media
from monitor.review.assign import assign, deciders
from monitor.review.categories import correct_categories
from monitor.review.claims import claim, release
from monitor.review.detail import load_item, snapshot_text
from monitor.review.queue import add_note, decide, reopen
from monitor.web.messages import translate_error
from monitor.web.render import flash, highlight, page, tr
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)
_VIEWS = ("item.view", "snapshot.view")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.get("/items/{item_id}")
def item_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """One queue item with its evidence; the view itself is audited."""
    web = request.app.state.web
    with transaction(web.sessions) as session:
        detail = load_item(session, item_id)
        media = item_media(session, [p.id or 0 for p in detail.posts])
        record_audit(session, actor.name, "item.view", "queue_item", item_id)
        people = [(u.id, u.name) for u in deciders(session)]
    evidence = detail.classification.evidence if detail.classification else []
    item = detail.item
    held_by_other = (item.claimed_by_id is not None and item.claimed_by_id != actor.id
                     and item.lease_expires_at is not None and item.lease_expires_at > utcnow())
    return page(request, "item.html", {
        "d": detail, "item": item, "segments": highlight(detail.post.text, evidence),
        "holds_claim": item.claimed_by_id == actor.id, "held_by_other": held_by_other,
        "can_split": _can_split(item, detail.posts),
        "alert_recipients": web.settings.alerts.recipients, "people": people,
        "assignee": dict(people).get(item.assigned_to_id) if item.assigned_to_id else None,
        # Views are folded away: the history shows what people did.
        "history": [ev for ev in detail.audit if ev.action not in _VIEWS],
        "views": [ev for ev in detail.audit if ev.action in _VIEWS],
        "media": media, "all_categories": CATEGORIES,
    })


def _can_split(item: tables.QueueItem, posts: list[tables.Post]) -> bool:
    return len(posts) > 1 and item.status not in FINAL_STATUSES


@router.get("/items/{item_id}/snapshots/{snapshot_id}")
def snapshot_view(item_id: int, snapshot_id: int, request: Request,
                  actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The archived page a post was parsed from, shown as escaped text; the view is audited."""
    web = request.app.state.web
    with transaction(web.sessions) as session:
        detail = load_item(session, item_id)
        if snapshot_id not in detail.snapshots:
            raise NotFound(f"snapshot {snapshot_id} does not belong to item {item_id}")
        snapshot = session.get(tables.Snapshot, snapshot_id)
        assert snapshot is not None
        body = snapshot_text(snapshot)
        record_audit(session, actor.name, "snapshot.view", "queue_item", item_id, snapshot_id=snapshot_id,
                     sha256=snapshot.sha256)
    return page(request, "snapshot.html", {"item": detail.item, "snapshot": snapshot, "body": body})


def _done(request: Request, item_id: int, message: str, *, to_queue: bool = False) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": True, "message": message})
    flash(request, message, "ok")
    return RedirectResponse("/" if to_queue else f"/items/{item_id}", status_code=303)


def _refused(request: Request, item_id: int, error: QueueError | InputError) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": False, "detail": str(error)}, status_code=400 if isinstance(error, InputError) else 409)
    flash(request, translate_error(tr(request), str(error)), "error")
    return RedirectResponse(f"/items/{item_id}", status_code=303)


@router.post("/items/{item_id}/claim")
def claim_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> Response:
    """Claim the item (or renew one's own lease)."""
    lease = request.app.state.web.settings.queue.lease
    try:
        claim(request.app.state.web.sessions, actor.user, item_id, lease=lease)
    except QueueError as e:
        return _refused(request, item_id, e)
    return _done(request, item_id, tr(request).gettext("You hold item %(id)s.") % {"id": item_id})


@router.post("/items/{item_id}/release")
def release_view(item_id: int, request: Request,
                 actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> Response:
    """Give the claim back."""
    try:
        release(request.app.state.web.sessions, actor.user, item_id)
    except QueueError as e:
        return _refused(request, item_id, e)
    return _done(request, item_id, tr(request).gettext("Item %(id)s released.") % {"id": item_id})


@router.post("/items/{item_id}/decide")
def decide_view(
    item_id: int,
    request: Request,
    actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
    status: Annotated[str, Form()],
    reason: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form(max_length=5000)] = None,
) -> Response:
    """Confirm, dismiss with a reason, or escalate; refused when another moderator holds the claim."""
    try:
        decide(request.app.state.web.sessions, actor.user, item_id, status,
               reason=reason or None if status == Status.DISMISSED else None, note=(note or "").strip() or None)
    except QueueError as e:
        return _refused(request, item_id, e)
    t = tr(request)
    return _done(request, item_id, t.gettext("Item %(id)s: %(status)s.") % {"id": item_id, "status": t.label("status", status)},
                 to_queue=True)


@router.post("/items/{item_id}/assign")
def assign_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
                assignee: Annotated[str, Form()] = "") -> Response:
    """Assign the item to a moderator or admin (empty: to nobody)."""
    try:
        assignee_id = int(assignee) if assignee else None
    except ValueError:
        raise InputError("assignee must be a user id") from None
    name = assign(request.app.state.web.sessions, actor.user, item_id, assignee_id)
    t = tr(request)
    message = (t.gettext("Item %(id)s assigned to %(name)s.") % {"id": item_id, "name": name} if name
               else t.gettext("Item %(id)s is assigned to nobody now.") % {"id": item_id})
    return _done(request, item_id, message)


@router.post("/items/{item_id}/categories")
def categories_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
                    categories: Annotated[list[str] | None, Form()] = None) -> Response:
    """Correct the categories that apply; the item's category becomes the most specific of them."""
    try:
        item = correct_categories(request.app.state.web.sessions, actor.user, item_id, categories or [])
    except (QueueError, InputError) as e:
        return _refused(request, item_id, e)
    t = tr(request)
    chosen = ", ".join(t.label("category", c) for c in item.categories)
    return _done(request, item_id, t.gettext("Item %(id)s: categories corrected (%(categories)s).")
                 % {"id": item_id, "categories": chosen})


@router.post("/items/{item_id}/note")
def note_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
              note: Annotated[str, Form(max_length=5000)]) -> Response:
    """Add a note to the item's history."""
    add_note(request.app.state.web.sessions, actor.user, item_id, note)
    return _done(request, item_id, tr(request).gettext("Note added."))


@router.post("/items/{item_id}/split")
def split_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
               post_ids: Annotated[list[int], Form()]) -> Response:
    """Move the ticked posts out of this incident into a new incident with its own queue item."""
    try:
        new_item = split_incident(request.app.state.web.sessions, actor.user, item_id, post_ids)
    except QueueError as e:
        return _refused(request, item_id, e)
    n = len(post_ids)
    return _done(request, item_id, tr(request).ngettext("%(num)d post split into item %(id)s.",
                                                        "%(num)d posts split into item %(id)s.", n)
                 % {"num": n, "id": new_item.id})




@router.post("/items/{item_id}/merge")
def merge_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
               other_ids: Annotated[str, Form(max_length=1000)]) -> Response:
    """Merge the named items (the same event) into this one; their posts move here."""
    try:
        ids = [int(x) for x in other_ids.replace(",", " ").split()]
    except ValueError:
        raise InputError("item numbers only, e.g. 12 15") from None
    try:
        target = merge_items(request.app.state.web.sessions, actor.user, item_id, ids)
    except QueueError as e:
        return _refused(request, item_id, e)
    return _done(request, item_id, f"merged {', '.join(map(str, ids))} into item {item_id} ({target.post_count} posts)")


@router.post("/items/{item_id}/reopen")
def reopen_view(item_id: int, request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> Response:
    """Put a decided item back in the open queue."""
    try:
        reopen(request.app.state.web.sessions, actor.user, item_id)
    except QueueError as e:
        return _refused(request, item_id, e)
    return _done(request, item_id, f"item {item_id} reopened")
