"""A moderator corrects a queue item's categories: the set that applies, the primary one by the most-specific rule.

A corrected item is the training data `monitor train --from-decisions` learns categories from, so the
correction is audited (before and after) and no machine step rewrites it afterwards (see `machine_categories`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.audit import record_audit
from monitor.core.classification import primary_category
from monitor.core.db import transaction
from monitor.core.errors import InputError, QueueError
from monitor.core.tables import QueueItem, User, utcnow
from monitor.core.vocab import CATEGORIES, PRIMARY_ORDER, Status
from monitor.review.claims import get_for_update, refuse_if_held, require_decider


def most_specific_first(categories: Iterable[str]) -> list[str]:
    """Known categories without repeats, most specific first (vocab.PRIMARY_ORDER); unknown names dropped."""
    chosen = set(categories)
    return [c.value for c in PRIMARY_ORDER if c in chosen]


def machine_categories(item: QueueItem, categories: Iterable[str]) -> None:
    """Set an item's categories from a machine step (a merge); nothing changes once a moderator corrected them."""
    if item.category_corrected_by is not None:
        return
    ordered = most_specific_first(categories)
    if ordered:
        item.categories = ordered
        item.category = primary_category(dict.fromkeys(ordered, 1.0))


def correct_categories(sessions: sessionmaker[Session], user: User, item_id: int, categories: Iterable[str], *,
                       now: datetime | None = None) -> QueueItem:
    """Set the categories that apply to an item (at least one); its category becomes the most specific of them.

    Moderators and admins only; refused while another moderator holds the item, and for a merged item
    (correct the item it was merged into). Audited as `queue.categories` with the sets before and after.
    """
    require_decider(user)
    wanted = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
    unknown = [c for c in wanted if c not in CATEGORIES]
    if unknown:
        raise InputError(f"unknown category {unknown[0]!r}: expected some of {', '.join(CATEGORIES)}")
    if not wanted:
        raise InputError("choose at least one category (dismiss the item if none applies)")
    ordered = most_specific_first(wanted)
    now = now or utcnow()
    with transaction(sessions) as session:
        item = get_for_update(session, item_id)
        if item.status == Status.MERGED:
            raise QueueError(f"item {item_id} was merged into item {item.merged_into_id}: correct that one")
        refuse_if_held(session, item, user, now)
        before, category_before = list(item.categories), item.category
        item.categories = ordered
        item.category = primary_category(dict.fromkeys(ordered, 1.0))
        item.category_corrected_by = user.name
        item.category_corrected_at = now
        item.updated_at = now
        session.add(item)
        record_audit(session, user.name, "queue.categories", "queue_item", item.id, before=before, after=ordered,
                     category_before=category_before, category=item.category)
        return item
