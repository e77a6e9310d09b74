"""Templates and the filters they use: Almaty time, safe links, evidence highlighted from escaped parts."""

from __future__ import annotations

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
from monitor.core.confidence import confidence_band
from monitor.core.excerpt import Segment, highlight
from monitor.core.i18n import DISMISS_LABELS, LANGUAGE_NAMES, LANGUAGES, Translator, negotiate, translator
from monitor.core.vocab import DISMISS_REASONS
from monitor.web.security import csrf_token

__all__ = ["Segment", "highlight", "make_templates", "page", "safe_url", "tr"]
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


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


def make_templates(timezone: str) -> Jinja2Templates:
    """The Jinja2 environment (autoescape on for every template, gettext i18n) with our filters.

    Each page passes its reader's `gettext`/`ngettext`/`_` and `t` (a Translator) in the context."""
    zone = ZoneInfo(timezone)
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True
    env.install_null_translations()  # type: ignore[attr-defined]

    def local(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
        return in_zone(value, zone).strftime(fmt) if value else "—"

    env.filters["local"] = local
    env.filters["safe_url"] = safe_url
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.0f}%"
    env.globals["band"] = confidence_band
    env.globals["dismiss_reasons"] = [(r.value, DISMISS_LABELS[r]) for r in DISMISS_REASONS]
    env.globals["languages"] = [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]
    env.globals["timezone_name"] = timezone
    return Jinja2Templates(env=env)


def language(request: Request) -> str:
    """The reader's language: their own choice, this browser's choice, Accept-Language before sign-in, the default."""
    actor = getattr(request.state, "actor", None)
    chosen = getattr(getattr(actor, "user", None), "language", None)
    if chosen in LANGUAGES:
        return str(chosen)
    session_choice = request.session.get("lang")
    if session_choice in LANGUAGES:
        return str(session_choice)
    if actor is None:
        offered = negotiate(request.headers.get("accept-language"))
        if offered:
            return offered
    return str(request.app.state.web.settings.web.language)


def tr(request: Request) -> Translator:
    """The Translator for this request's reader."""
    cached = getattr(request.state, "translator", None)
    if isinstance(cached, Translator):
        return cached
    found = translator(language(request), request.app.state.web.settings.timezone)
    request.state.translator = found
    return found


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a page template in the reader's language with the caller and CSRF token in its context."""
    templates: Jinja2Templates = request.app.state.web.templates
    messages = request.session.pop("flash", [])
    t = tr(request)
    context = {"actor": getattr(request.state, "actor", None), "csrf": csrf_token(request),
               "messages": messages, "t": t, "lang": t.language, "gettext": t.gettext, "_": t.gettext,
               "ngettext": t.ngettext, "pgettext": t.pgettext, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Keep a message in the session for the next page."""
    messages = list(request.session.get("flash", []))[-4:]
    messages.append([kind, message])
    request.session["flash"] = messages
