"""Domain error messages (English, as the CLI prints them) in the web reader's language.

The review layer raises plain English sentences with values in them; the web matches the known
shapes here and translates them, keeping the values. An unknown message is shown as raised."""

from __future__ import annotations

import re

from monitor.core.i18n import N_, Translator

# (shape of the English message, msgid with the same named values)
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), m) for p, m in (
    (r"^item (?P<id>\d+) is claimed by (?P<holder>.+) until (?P<until>.+)$",
     N_("Item %(id)s is claimed by %(holder)s until %(until)s.")),
    (r"^item (?P<id>\d+) is claimed by (?P<holder>.+), not by you$",
     N_("Item %(id)s is claimed by %(holder)s, not by you.")),
    (r"^item (?P<id>\d+) is not claimed$", N_("Item %(id)s is not claimed.")),
    (r"^item (?P<id>\d+) is already (?P<status>\w+)$", N_("Item %(id)s is already %(status)s.")),
    (r"^queue item (?P<id>\d+) does not exist$", N_("Queue item %(id)s does not exist.")),
    (r"^the post of queue item (?P<id>\d+) is gone$", N_("The post of queue item %(id)s is gone.")),
    (r"^snapshot (?P<snapshot>\d+) does not belong to item (?P<id>\d+)$",
     N_("Snapshot %(snapshot)s does not belong to item %(id)s.")),
    (r"^the date range is reversed", N_("The date range is reversed: “from” is after “to”.")),
    (r"^(?P<field>date_from|date_to) must be a date", N_("Write dates as dd.mm.yyyy, e.g. 31.01.2026.")),
    (r"^sign in first$", N_("Sign in first.")),
    (r"^the form has expired", N_("The form has expired or did not come from this site: reload the page "
                                  "and try again.")),
    (r"^this needs the (?P<needed>\w+) role; you are (?P<role>\w+)$",
     N_("This needs the %(needed)s role; you are %(role)s.")),
    (r"^password must be at least (?P<num>\d+) characters$", N_("The password must be at least %(num)s characters.")),
    (r"^user '(?P<name>.+)' already exists$", N_("User %(name)s already exists.")),
    (r"^you cannot deactivate yourself$", N_("You cannot deactivate yourself.")),
    (r"^note is empty$", N_("The note is empty.")),
    (r"^choose at least one category", N_("Choose at least one category (dismiss the item if none applies).")),
    (r"^item (?P<id>\d+) was merged into item (?P<into>\d+): correct that one$",
     N_("Item %(id)s was merged into item %(into)s: correct that one.")),
    (r"^Not Found$", N_("Not found.")),
    (r"^Method Not Allowed$", N_("This address does not take this kind of request.")),
    (r"^the server could not do this", N_("The server could not do this; the error is in the service log.")),
))
_LABELLED = {"status": "status", "needed": "role", "role": "role"}


def translate_error(t: Translator, message: str) -> str:
    """The message in the reader's language when its shape is known, else as raised."""
    for pattern, msgid in _SHAPES:
        match = pattern.search(message)
        if match:
            values = {k: t.label(_LABELLED[k], v) if k in _LABELLED else v for k, v in match.groupdict().items()}
            return t.gettext(msgid) % values
    return t.gettext(message)
