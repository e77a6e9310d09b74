"""Languages of the interface and emails: gettext catalogs (Babel), labels of the vocabulary, dates, places.

Message ids are English; the catalogs live in monitor/locale/<lang>/LC_MESSAGES/messages.po (compiled
.mo shipped beside them; `make messages` extracts and updates, `make catalogs` compiles). Russian is
the default language; Kazakh and English are complete.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.core.places.labels import place_label
from monitor.core.vocab import AlertReason, Category, DismissReason, MediaStatus, Role, Severity, Status

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
DEFAULT_LANGUAGE = "ru"
LANGUAGE_NAMES: dict[str, str] = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
DATE_FORMAT = "%d.%m.%Y"
DATETIME_FORMAT = "%d.%m.%Y %H:%M"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here (translated where it is shown)."""
    return message


STATUS_LABELS: dict[str, str] = {
    Status.NEW: N_("new"),
    Status.IN_REVIEW: N_("in review"),
    Status.CONFIRMED: N_("confirmed"),
    Status.DISMISSED: N_("dismissed"),
    Status.ESCALATED: N_("escalated"),
    Status.MERGED: N_("merged"),
    "open": N_("open"),
    "updates": N_("updates"),
    "all": N_("all"),
}
SEVERITY_LABELS: dict[str, str] = {
    Severity.NONE: N_("none"),
    Severity.LOW: N_("low"),
    Severity.MEDIUM: N_("medium"),
    Severity.HIGH: N_("high"),
    Severity.CRITICAL: N_("critical"),
}
CATEGORY_LABELS: dict[str, str] = {
    Category.PHYSICAL_VIOLENCE: N_("physical violence"),
    Category.BULLYING: N_("bullying"),
    Category.CYBERBULLYING: N_("cyberbullying"),
    Category.EXTORTION: N_("extortion"),
    Category.SEXUAL_MISCONDUCT: N_("sexual misconduct"),
    Category.TEACHER_MISCONDUCT: N_("teacher misconduct"),
    Category.THREAT_WEAPON: N_("threat or weapon"),
}
DISMISS_LABELS: dict[str, str] = {
    DismissReason.NOT_SCHOOL_RELATED: N_("Not school-related"),
    DismissReason.NOT_VIOLENCE: N_("Not violence"),
    DismissReason.DUPLICATE: N_("Duplicate"),
    DismissReason.OLD_NEWS: N_("Old news"),
    DismissReason.FICTION_OR_FILM: N_("Fiction or film"),
    DismissReason.OTHER: N_("Other"),
}
ROLE_LABELS: dict[str, str] = {
    Role.VIEWER: N_("viewer"),
    Role.MODERATOR: N_("moderator"),
    Role.ADMIN: N_("admin"),
}
ALERT_REASON_LABELS: dict[str, str] = {
    AlertReason.CRITICAL: N_("critical"),
    AlertReason.ESCALATED: N_("escalated by a moderator"),
    AlertReason.UPDATE: N_("new post on a decided incident"),
}
SORT_LABELS: dict[str, str] = {
    "severity": N_("severity"),
    "newest": N_("newest"),
    "oldest": N_("oldest"),
    "score": N_("confidence"),
}
# Confidence bands (monitor.core.confidence) in words.
BAND_LABELS: dict[str, str] = {
    "very_likely": N_("very likely"), "likely": N_("likely"), "possible": N_("possible"),
    "unlikely": N_("unlikely"), "very_unlikely": N_("very unlikely"),
}
# History events (audit actions) in words: "mod1: confirmed, 12:40".
AUDIT_LABELS: dict[str, str] = {
    "item.view": N_("viewed"),
    "snapshot.view": N_("viewed the snapshot"),
    "queue.claim": N_("claimed"),
    "queue.release": N_("released"),
    "queue.decide": N_("decided"),
    "queue.note": N_("added a note"),
    "incident.split": N_("split the incident"),
    "incident.merge": N_("merged incidents"),
    "incident.reopen": N_("reopened"),
    "queue.export": N_("exported the queue"),
    "queue.assign": N_("assigned"),
    "queue.categories": N_("corrected the categories"),
    "queue.reopen": N_("reopened"),
    "queue.update": N_("new post since decision"),
    "queue.join": N_("a post joined"),
    "media.view": N_("viewed media"),
    "media.download": N_("downloaded media"),
}
DIGEST_STATUS_LABELS: dict[str, str] = {
    "sending": N_("sending"), "sent": N_("sent"), "failed": N_("failed, will retry"), "gave_up": N_("gave up"),
}
# A source's last error in plain words: (pattern in the stored error, what it means).
_ERROR_MEANINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"errno -[23]|name or service not known|nodename nor servname|getaddrinfo|name resolution",
                re.I), N_("the site's address could not be found (DNS)")),
    (re.compile(r"timeout|timed out", re.I), N_("the site did not answer in time")),
    (re.compile(r"certificate|ssl", re.I), N_("the site's certificate could not be verified")),
    (re.compile(r"connection refused|errno 111|connecterror|connection reset|remoteprotocolerror", re.I),
     N_("the site could not be reached")),
    (re.compile(r"\b(401|403)\b"), N_("the site refused access (it may need a login or block us)")),
    (re.compile(r"\b404\b|\b410\b"), N_("the page is gone (moved or deleted)")),
    (re.compile(r"\b429\b|rate.?limit", re.I), N_("the site asked us to slow down")),
    (re.compile(r"\b5\d\d\b"), N_("the site had an internal error")),
    (re.compile(r"parse|layout|no posts found|unexpected (page|markup)", re.I),
     N_("the page changed its layout; the parser needs an update")),
)
MEDIA_KIND_LABELS: dict[str, str] = {"photo": N_("photo"), "video": N_("video"), "thumbnail": N_("thumbnail")}
MEDIA_STATUS_LABELS: dict[str, str] = {
    MediaStatus.PENDING: N_("waiting to be fetched"),
    MediaStatus.FETCHED: N_("archived"),
    MediaStatus.FAILED: N_("fetch failed"),
    MediaStatus.REFUSED: N_("not fetched"),
    MediaStatus.GONE: N_("gone at source"),
    MediaStatus.PURGED: N_("file purged (retention)"),
}
KINDS: dict[str, Mapping[str, str]] = {
    "status": STATUS_LABELS, "severity": SEVERITY_LABELS, "category": CATEGORY_LABELS,
    "reason": DISMISS_LABELS, "role": ROLE_LABELS, "alert_reason": ALERT_REASON_LABELS,
    "sort": SORT_LABELS, "band": BAND_LABELS, "audit": AUDIT_LABELS, "digest": DIGEST_STATUS_LABELS,
    "media": MEDIA_KIND_LABELS, "media_status": MEDIA_STATUS_LABELS,
}


@lru_cache(maxsize=8)
def _catalog(language: str) -> _gettext.NullTranslations:
    return _gettext.translation("messages", localedir=str(LOCALE_DIR), languages=[language], fallback=True)


def normalize_language(value: str | None) -> str | None:
    """'ru', 'kk' or 'en' for a tag like 'kk-KZ' or 'RU'; None for anything else."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


_QUALITY = re.compile(r"^\s*q\s*=\s*([0-9.]+)\s*$")


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an Accept-Language header (by q-value), or None."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        language = normalize_language(tag)
        if language is None:
            continue
        quality = 1.0
        match = _QUALITY.match(params) if params else None
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue
        if quality > 0 and (best is None or (quality, -index) > (best[0], best[1])):
            best = (quality, -index, language)
    return best[2] if best else None


@dataclass(frozen=True)
class Translator:
    """One language's gettext, ngettext, vocabulary labels, dates and place names."""

    language: str
    timezone: str = "Asia/Almaty"

    @property
    def _t(self) -> _gettext.NullTranslations:
        return _catalog(self.language)

    def gettext(self, message: str) -> str:
        """The message in this language (the English id when the catalog lacks it)."""
        return self._t.gettext(message)

    def pgettext(self, context: str, message: str) -> str:
        """The message in this language for one context ("button" vs a heading with the same English)."""
        return self._t.pgettext(context, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The plural form for n ("1 ошибка", "2 ошибки", "5 ошибок")."""
        return self._t.ngettext(singular, plural, n)

    def label(self, kind: str, value: str | None) -> str:
        """A status, severity, category, dismiss reason, role, sort, band or audit event in words."""
        if not value:
            return "—"
        if value == "unknown":
            return self.gettext("unknown")
        msgid = KINDS[kind].get(value)
        return self.gettext(msgid) if msgid else value.replace("_", " ")

    def place(self, name: str | None) -> str:
        """A gazetteer place or school name ("Talgar", "School No. 3") in this language."""
        if not name:
            return "—"
        if name == "unknown":
            return self.gettext("unknown")
        return place_label(name, self.language)

    def error(self, text: str | None) -> str:
        """A stored scrape error in plain words ("the site did not answer in time"); '' for none."""
        if not text:
            return ""
        for pattern, meaning in _ERROR_MEANINGS:
            if pattern.search(text):
                return self.gettext(meaning)
        return self.gettext("other error: %(detail)s") % {"detail": text[:120]}

    def dt(self, value: datetime | None, fmt: str = DATETIME_FORMAT) -> str:
        """A timestamp as dd.mm.yyyy HH:MM in the configured time zone ('—' for none)."""
        if value is None:
            return "—"
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(ZoneInfo(self.timezone)).strftime(fmt)

    def day(self, value: date | None) -> str:
        """A date as dd.mm.yyyy."""
        return value.strftime(DATE_FORMAT) if value else "—"


def translator(language: str | None, timezone: str = "Asia/Almaty") -> Translator:
    """The Translator for a language (the default, Russian, for an unknown one)."""
    return Translator(normalize_language(language) or DEFAULT_LANGUAGE, timezone)
