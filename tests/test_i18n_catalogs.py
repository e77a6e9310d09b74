"""The shipped catalogs: every extracted message translated into Russian and Kazakh, and the compiled
.mo files in step with the .po files (run `make messages` then `make catalogs` after changing strings)."""

from __future__ import annotations

import gettext

import pytest
from babel.messages.pofile import read_po

from monitor.core.i18n import LOCALE_DIR


def _catalog(name: str):  # type: ignore[no-untyped-def]
    with open(LOCALE_DIR / name, "rb") as f:
        return read_po(f)


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_every_message_is_translated_and_compiled(language: str) -> None:
    template = _catalog("messages.pot")
    po = _catalog(f"{language}/LC_MESSAGES/messages.po")
    compiled = gettext.translation("messages", localedir=str(LOCALE_DIR), languages=[language])
    missing, stale = [], []
    for message in template:
        if not message.id:
            continue
        entry = po.get(message.id, context=message.context)
        strings = (entry.string if isinstance(entry.string, tuple) else (entry.string,)) if entry else ("",)
        if entry is None or not all(strings) or entry.fuzzy:
            missing.append(message.id)
            continue
        if isinstance(message.id, tuple):
            got = compiled.ngettext(message.id[0], message.id[1], 1)
            want = strings[0]
        elif message.context:
            got, want = compiled.pgettext(message.context, message.id), strings[0]
        else:
            got, want = compiled.gettext(message.id), strings[0]
        if got != want:
            stale.append(message.id)
    assert missing == [], f"untranslated in {language}: {missing}"
    assert stale == [], f"the {language} .mo is older than its .po: {stale}"
