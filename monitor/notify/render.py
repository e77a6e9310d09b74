"""Rendering shared by the digest and the alerts: the email templates (gettext i18n), links, place lines."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from monitor.core.confidence import confidence_band
from monitor.core.i18n import Translator

TEMPLATES = Path(__file__).parent / "templates"


def item_link(base_url: str, item_id: int) -> str:
    """The web app's page for a queue item."""
    return f"{base_url.rstrip('/')}/items/{item_id}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_null_translations()  # type: ignore[attr-defined]
    env.globals["band"] = confidence_band
    return env


def render_template(name: str, t: Translator, **context: Any) -> str:
    """Render one template under monitor/notify/templates in t's language."""
    return _environment().get_template(name).render(
        t=t, gettext=t.gettext, _=t.gettext, ngettext=t.ngettext, **context
    )


def where(t: Translator, *names: str | None) -> str:
    """The known parts of a place, most specific first, in t's language ("школа №3, Талгар")."""
    parts: list[str] = []
    for name in names:
        if name:
            label = t.place(name)
            if label not in parts:
                parts.append(label)
    return ", ".join(parts) if parts else t.gettext("place unknown")
