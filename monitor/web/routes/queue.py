"""The queue page: one row per incident, filters, sort, pages, counts, claim next, bulk decisions."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from monitor.core.audit import record_audit
from monitor.core.confidence import confidence_band
from monitor.core.db import transaction
from monitor.core.errors import InputError
from monitor.core.i18n import N_
from monitor.core.vocab import CATEGORIES, DECISIONS, DISMISS_REASONS, SEVERITIES, Role, Status
from monitor.ingest.media.evidence import queue_thumbs
from monitor.review.assign import deciders
from monitor.review.claims import claim_next
from monitor.review.queries import SORTS, STATUS_CHOICES, QueueQuery, distinct_values, parse_query, queue_page
from monitor.review.queue import QueueFilter, bulk_decide
from monitor.review.saved import delete_filter, list_saved, save_filter
from monitor.web.messages import translate_error
from monitor.web.render import flash, page, tr
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)
_CHOICES_TTL_S = 60.0
_FILTER_TITLES = (("region", N_("Region")), ("district", N_("District")), ("school", N_("School")),
                  ("platform", N_("Platform")), ("language", N_("Language")))


def _choices(request: Request) -> dict[str, list[str]]:
    # Distinct districts etc. change rarely; re-reading them on every page view would double its cost.
    web = request.app.state.web
    cached = web.cache.get("choices")
    if cached and cached[0] > time.monotonic():
        return dict(cached[1])
    with web.sessions() as session:
        values = {c: distinct_values(session, c) for c in ("region", "district", "school", "platform", "language")}
    web.cache["choices"] = (time.monotonic() + _CHOICES_TTL_S, values)
    return values


def to_filter(q: QueueQuery, request: Request) -> QueueFilter:
    """The core queue's filter for the same query (claim next takes the moderator's current filters)."""
    return q.to_filter(request.app.state.web.zone, with_status=False)


@router.get("/")
def queue_view(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The review queue with filters, counts and pages."""
    web = request.app.state.web
    q = parse_query(dict(request.query_params))
    with web.sessions() as session:
        result = queue_page(session, q, web.settings.web.page_size, web.zone)
        thumbs = queue_thumbs(session, [row.item for row in result.rows])
        saved = list_saved(session, actor.id)
        people = [(u.id, u.name) for u in deciders(session)]
    context: dict[str, Any] = {
        "saved": saved, "people": people, "saveable": urlencode(q.params(page=1)),
        "q": q, "result": result, "thumbs": thumbs, "choices": _choices(request), "statuses": STATUS_CHOICES,
        "filter_titles": [(key, tr(request).gettext(title)) for key, title in _FILTER_TITLES],
        "filtered": sum(1 for k in q.params() if k not in ("status", "page", "sort", "q")),
        "severities": SEVERITIES, "categories": CATEGORIES, "sorts": tuple(SORTS),
        "qs": lambda **changes: urlencode(q.params(**changes)),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    return page(request, "queue.html", context)


@router.post("/queue/saved")
def save_view(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))],
              name: Annotated[str, Form(max_length=200)], query: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Keep the current queue view under a name (the same name replaces it)."""
    parse_query(dict(parse_qsl(query)))  # a bad query is refused now, not when it is used
    saved = save_filter(request.app.state.web.sessions, actor.id, name, query)
    flash(request, tr(request).gettext("Filter “%(name)s” saved.") % {"name": saved.name}, "ok")
    return RedirectResponse("/?" + query, status_code=303)


@router.post("/queue/saved/{filter_id}/delete")
def delete_saved_view(filter_id: int, request: Request,
                      actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """Forget one of the user's saved filters."""
    delete_filter(request.app.state.web.sessions, actor.id, filter_id)
    flash(request, tr(request).gettext("Saved filter deleted."), "ok")
    return RedirectResponse("/", status_code=303)


_EXPORT_LIMIT = 5000


def _cell(value: object) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet (post texts are hostile input).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _export(request: Request, actor: Actor, kind: str) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the current queue view (same filters and sort, up to 5000 rows); the export is audited."""
    web = request.app.state.web
    t = tr(request)
    q = parse_query(dict(request.query_params))
    with transaction(web.sessions) as session:
        result = queue_page(session, replace(q, page=1), _EXPORT_LIMIT, web.zone)
        record_audit(session, actor.name, "queue.export", "queue", None, rows=len(result.rows), format=kind,
                     **q.params())
    base = web.settings.web.base_url.rstrip("/")
    rows: list[list[object]] = []
    for row in result.rows:
        i = row.item
        rows.append([
            i.id, t.label("severity", i.severity), t.label("band", confidence_band(i.score)), t.label("category", i.category),
            t.place(i.region), t.place(i.district), t.place(i.school) if i.school else "", t.label("status", i.status),
            t.dt(row.published_at), t.dt(i.created_at), i.platform, i.post_count, f"{base}/items/{i.id}", row.preview,
        ])
    return [t.gettext(h) for h in _EXPORT_HEADERS], rows


@router.get("/queue.csv")
def export_view(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The current queue view as CSV (formula-safe cells, the reader's language); audited."""
    headers, rows = _export(request, actor, "csv")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for values in rows:
        writer.writerow([_cell(v) for v in values])
    # A byte-order mark so spreadsheet programs read the Cyrillic as UTF-8.
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="queue.csv"'})


@router.get("/queue.xlsx")
def export_xlsx_view(request: Request, actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The current queue view as an Excel workbook; every text cell is stored as text, never as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    headers, rows = _export(request, actor, "xlsx")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("queue")
    sheet.append(headers)
    for values in rows:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value if isinstance(value, int) else _xlsx_text(value))
            if not isinstance(value, int):
                cell.data_type = "s"  # a post text starting with "=" stays text
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="queue.xlsx"'})


def _xlsx_text(value: object) -> str:
    # Characters XML 1.0 cannot hold (control characters in scraped text) would make the file unreadable.
    return "".join(ch for ch in ("" if value is None else str(value)) if ch in "\t\n\r" or ord(ch) >= 0x20)


_EXPORT_HEADERS = (N_("Item"), N_("Severity"), N_("Confidence"), N_("Category"), N_("Region"), N_("District"),
                   N_("School"), N_("Status"), N_("Published"), N_("Flagged"), N_("Platform"), N_("Posts"),
                   N_("Link"), N_("Post"))


def _back(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/queue/claim-next")
async def claim_next_view(request: Request, actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> Response:
    """Claim the most severe open item matching the current filters and open it."""
    web = request.app.state.web
    form = await request.form()
    args = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    q = parse_query(args)
    # The item shown first under the current sort is the one taken.
    item = claim_next(web.sessions, actor.user, filters=to_filter(q, request), lease=web.settings.queue.lease,
                      order=SORTS[q.sort])
    if item is None:
        flash(request, tr(request).gettext("Nothing left to claim under these filters."))
        return RedirectResponse("/?" + urlencode(q.params()), status_code=303)
    return RedirectResponse(f"/items/{item.id}", status_code=303)


@router.post("/queue/bulk")
def bulk_view(
    request: Request,
    actor: Annotated[Actor, Depends(require(Role.MODERATOR))],
    action: Annotated[str, Form()] = "",
    ids: Annotated[list[int], Form()] = [],  # noqa: B006  (FastAPI reads the default, never mutates it)
    reason: Annotated[str | None, Form()] = None,
    back: Annotated[str, Form()] = "/",
) -> Response:
    """Confirm, dismiss (with a reason) or escalate the ticked items; refusals are reported, not hidden."""
    web = request.app.state.web
    t = tr(request)
    # Nothing chosen or nothing ticked: back to the same filtered view, saying why nothing happened.
    if not action:
        flash(request, t.gettext("Choose a bulk action first; nothing was changed."), "error")
        return RedirectResponse(_back(back), status_code=303)
    if action not in DECISIONS:
        raise InputError(t.gettext("Choose confirm, dismiss or escalate."))
    if not ids:
        flash(request, t.gettext("Tick at least one item; nothing was changed."), "error")
        return RedirectResponse(_back(back), status_code=303)
    if len(ids) > 500:
        raise InputError(t.gettext("At most 500 items at once."))
    if action == Status.DISMISSED and reason not in DISMISS_REASONS:
        raise InputError(t.gettext("Dismissing needs a reason."))
    result = bulk_decide(web.sessions, actor.user, ids, action, reason=reason if action == Status.DISMISSED else None)
    n = len(result.decided)
    flash(request, t.ngettext("%(num)d item: %(status)s", "%(num)d items: %(status)s", n)
          % {"num": n, "status": t.label("status", action)}, "ok")
    for item_id, why in list(result.refused.items())[:5]:
        flash(request, t.gettext("Item %(id)s: %(why)s") % {"id": item_id, "why": translate_error(t, why)}, "error")
    return RedirectResponse(_back(back), status_code=303)
