"""Templates and the filters they use: Almaty time, safe links, evidence highlighted from escaped parts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from monitor.core.boundary import in_zone
from monitor.core.classification import merge_spans
from monitor.core.vocab import DISMISS_REASONS, DismissReason
from monitor.review.confidence import confidence_band
from monitor.web.security import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
DISMISS_LABELS: dict[DismissReason, str] = {
    DismissReason.NOT_SCHOOL_RELATED: "Not school-related",
    DismissReason.NOT_VIOLENCE: "Not violence",
    DismissReason.DUPLICATE: "Duplicate",
    DismissReason.OLD_NEWS: "Old news",
    DismissReason.FICTION_OR_FILM: "Fiction or film",
    DismissReason.OTHER: "Other",
}


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of post text; `mark` when a classifier evidence span covers it."""

    text: str
    mark: bool


def safe_url(value: Any) -> str | None:
    """The URL when it is http(s) with a host, else None (javascript:, data: and the like never link)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ch in url for ch in "\x00\r\n\t\"'<> "):
        return None
    return url


def highlight(text: str, evidence: Sequence[Mapping[str, Any]] | None) -> list[Segment]:
    """Split text into plain and marked segments from evidence spans; bad spans are ignored."""
    spans: list[tuple[int, int]] = []
    for span in evidence or ():
        start, end = span.get("start"), span.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
            continue
        start, end = max(0, start), min(len(text), end)
        quoted = span.get("text")
        # A span whose offsets disagree with its quoted text is re-found by the text itself.
        if isinstance(quoted, str) and quoted and text[start:end] != quoted:
            found = text.find(quoted)
            if found < 0:
                continue
            start, end = found, found + len(quoted)
        if end > start:
            spans.append((start, end))
    out: list[Segment] = []
    pos = 0
    for start, end in merge_spans(spans):
        if start > pos:
            out.append(Segment(text[pos:start], False))
        out.append(Segment(text[start:end], True))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:], False))
    return out


def make_templates(timezone: str) -> Jinja2Templates:
    """The Jinja2 environment (autoescape on for every template) with our filters."""
    zone = ZoneInfo(timezone)
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True))

    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return in_zone(value, zone).strftime(fmt) if value else "—"

    env.filters["local"] = local
    env.filters["safe_url"] = safe_url
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.0f}%"
    env.filters["band"] = confidence_band
    env.globals["dismiss_reasons"] = [(r.value, DISMISS_LABELS[r]) for r in DISMISS_REASONS]
    env.globals["timezone_name"] = timezone
    return Jinja2Templates(env=env)


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a page template with the caller and CSRF token in its context."""
    templates: Jinja2Templates = request.app.state.web.templates
    messages = request.session.pop("flash", [])
    context = {"actor": getattr(request.state, "actor", None), "csrf": csrf_token(request),
               "messages": messages, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Keep a message in the session for the next page."""
    messages = list(request.session.get("flash", []))[-4:]
    messages.append([kind, message])
    request.session["flash"] = messages
