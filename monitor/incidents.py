"""Posts about one event join one incident: reposts, quotes, the same video, near-duplicate text, ru <-> kk rewrites."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor import tables
from monitor.classifier import severity_rank
from monitor.config import Settings
from monitor.db import transaction
from monitor.errors import ClassifierError, InputError, NotFound, QueueError
from monitor.placenames import normalize
from monitor.tables import Incident, Post, QueueItem, User, utcnow

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]

MAX_COMPARED_CHARS = 20_000
_URL = re.compile(r"https?://\S+|www\.\S+")
_TAG = re.compile(r"[#@]\w+")
_WORD = re.compile(r"\w+")
# Words that say nothing about which event a post is about (reposters add them).
_FILLER = frozenset(
    ["и", "в", "на", "с", "по", "а", "но", "что", "это", "как", "не", "да", "уже", "все", "вот", "ужас", "жесть",
     "смотрите", "repost", "репост"]
)


def text_tokens(text: str) -> list[str]:
    """Words of a post for comparison: normalized, without links, hashtags, mentions, emoji or punctuation."""
    # The opening is what reposts share; a 1 MB post costs no more than 20,000 characters.
    norm = _TAG.sub(" ", _URL.sub(" ", normalize(text[:MAX_COMPARED_CHARS])))
    return [w for w in _WORD.findall(norm) if w not in _FILLER and (len(w) > 1 or w.isdigit())]


def shingles(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    """Word bigrams (single words for very short texts)."""
    if len(tokens) < 3:
        return {(t,) for t in tokens}
    return set(pairwise(tokens))


def text_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Containment of the smaller text's bigrams in the larger's: a repost with added comments stays near 1."""
    sa_, sb = shingles(a), shingles(b)
    small = min(len(sa_), len(sb))
    if small < 3:
        return 1.0 if sa_ and sa_ == sb else 0.0
    return len(sa_ & sb) / small


def numbers_conflict(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when each text has a number the other lacks (7th grade vs 9th grade, 2 pupils vs 5)."""
    na, nb = {t for t in a if t.isdigit()}, {t for t in b if t.isdigit()}
    return bool(na - nb) and bool(nb - na)


def url_key(url: str) -> str:
    """A URL compared loosely: no scheme, www, fragment or trailing slash; Telegram's /s/ preview path folded."""
    key = re.sub(r"^[a-z]+://", "", url.strip().lower()).split("#", 1)[0].rstrip("/")
    key = key.removeprefix("www.").removeprefix("m.")
    return re.sub(r"^(t\.me|telegram\.me)/s/", "t.me/", key)


def media_keys(post: Post) -> set[str]:
    """The post's photo/video and thumbnail URLs."""
    keys: set[str] = set()
    for m in post.media or []:
        for field in ("url", "thumbnail_url"):
            if isinstance(m.get(field), str) and m[field]:
                keys.add(url_key(m[field]))
    return keys


def references(post: Post) -> set[str]:
    """URLs of posts this one forwards, quotes, reposts or links to (scraper extras)."""
    extras = post.extras or {}
    found: list[Any] = [extras.get(k) for k in ("repost_of", "quote_of", "quoted_url", "original_url", "shared_url")]
    for k in ("forwarded_from", "link_preview", "quote", "repost"):
        if isinstance(extras.get(k), dict):
            found.append(extras[k].get("url"))
    if isinstance(extras.get("links"), list):
        found += extras["links"]
    return {url_key(u) for u in found if isinstance(u, str) and u.startswith(("http://", "https://"))}


def _compatible(post: Post, incident: Incident) -> bool:
    """No contradiction between the post's place and the incident's (unknown matches anything)."""
    for mine, theirs in ((post.region, incident.region), (post.district, incident.district), (post.school, incident.school)):
        if mine and theirs and mine != theirs:
            return False
    return True


def _same_place(a: Post, b: Post) -> bool:
    """Both posts name the same school, town or district (not merely no contradiction)."""
    return a.region == b.region and any(
        x is not None and x == y for x, y in ((a.school, b.school), (a.town, b.town), (a.district, b.district))
    )


def _vector(post: Post) -> np.ndarray | None:
    return None if post.embedding is None else np.frombuffer(post.embedding, dtype="<f4")


def _store_embeddings(posts: Sequence[Post], embed: Embed) -> None:
    """Embed the posts that have no stored embedding yet (one batch); on failure, go on without."""
    todo = [p for p in posts if p.embedding is None]
    if not todo:
        return
    try:
        vectors = np.asarray(embed([p.text for p in todo]), dtype="<f4")
    except (ClassifierError, RuntimeError, ValueError) as e:
        log.warning("incident grouping without embeddings: %s", e)
        return
    for post, vector in zip(todo, vectors):
        post.embedding = vector.tobytes()


@dataclass(frozen=True)
class _Candidate:
    post: Post
    incident: Incident


def _candidates(session: Session, post: Post, settings: Settings) -> list[_Candidate]:
    """Grouped posts published within the incident window of this one, newest first."""
    window = timedelta(hours=settings.places.incident_window_h)
    stmt = (
        select(Post, Incident)
        .join(Incident, Incident.id == Post.incident_id)  # type: ignore[arg-type]
        .where(Post.id != post.id, Post.published_at >= post.published_at - window,
               Post.published_at <= post.published_at + window)
        .order_by(col(Post.published_at).desc())
        .limit(settings.places.incident_max_candidates)
    )
    return [_Candidate(p, i) for p, i in session.exec(stmt)]


def find_incident(
    session: Session, post: Post, *, settings: Settings, embed: Embed | None = None
) -> tuple[Incident, str, float] | None:
    """The incident this post belongs to, with the reason ("repost", "media", "text", "embedding") and score."""
    candidates = _candidates(session, post, settings)
    if not candidates:
        return None
    refs, media, own_url = references(post), media_keys(post), url_key(post.url)
    for c in candidates:
        if url_key(c.post.url) in refs or own_url in references(c.post):
            return c.incident, "repost", 1.0
        if media and media & media_keys(c.post):
            return c.incident, "media", 1.0
    tokens = text_tokens(post.text)
    best: tuple[Incident, str, float] | None = None
    rest: list[tuple[_Candidate, list[str]]] = []
    for c in candidates:
        if not _compatible(post, c.incident):
            continue
        theirs = text_tokens(c.post.text)
        if numbers_conflict(tokens, theirs):
            continue
        score = text_similarity(tokens, theirs)
        if score >= settings.places.incident_text_similarity:
            if best is None or score > best[2]:
                best = (c.incident, "text", score)
        elif c.post.language != post.language and _same_place(post, c.post):
            # Embeddings only across languages and for posts that name the same place: within one
            # language two fights at one school score as high as a translation (0.91 against 0.85 on
            # the bundled encoder), and the words tell them apart.
            rest.append((c, theirs))
    if best is not None or embed is None or not rest:
        return best
    _store_embeddings([post] + [c.post for c, _ in rest], embed)
    mine = _vector(post)
    if mine is None:
        return None
    for c, _ in rest:
        theirs_v = _vector(c.post)
        if theirs_v is None or theirs_v.shape != mine.shape:
            continue
        score = float(np.dot(mine, theirs_v))
        if score >= settings.places.incident_embedding_similarity and (best is None or score > best[2]):
            best = (c.incident, "embedding", score)
    return best


def assign_incident(session: Session, post_row: Post, *, settings: Settings, embed: Embed | None = None) -> Incident:
    """The incident of a stored flagged post: an existing one about the same event, else a new one."""
    if post_row.incident_id is not None:
        existing = session.get(Incident, post_row.incident_id)
        if existing is not None:
            return existing
    found = find_incident(session, post_row, settings=settings, embed=embed)
    if found is None:
        incident = Incident(first_seen_at=post_row.published_at, last_seen_at=post_row.published_at,
                            region=post_row.region, district=post_row.district, school=post_row.school)
    else:
        incident = found[0]
        incident.first_seen_at = min(incident.first_seen_at, post_row.published_at)
        incident.last_seen_at = max(incident.last_seen_at, post_row.published_at)
        incident.region = incident.region or post_row.region
        incident.district = incident.district or post_row.district
        incident.school = incident.school or post_row.school
    session.add(incident)
    session.flush()
    post_row.incident_id = incident.id
    session.add(post_row)
    return incident


def split_incident(
    sessions_or_session: sessionmaker[Session] | Session, user: User, queue_item_id: int, post_ids: Sequence[int]
) -> QueueItem:
    """Move some posts of a queue item's incident to a new incident with its own new queue item (audited)."""
    if isinstance(sessions_or_session, Session):
        return _split(sessions_or_session, user, queue_item_id, post_ids)
    with transaction(sessions_or_session) as session:
        return _split(session, user, queue_item_id, post_ids)


def _split(session: Session, user: User, queue_item_id: int, post_ids: Sequence[int]) -> QueueItem:
    if user.role not in ("moderator", "admin"):
        raise QueueError(f"user {user.name} is a {user.role}: only moderators and admins split incidents")
    item = session.get(QueueItem, queue_item_id)
    if item is None:
        raise NotFound(f"queue item {queue_item_id} not found")
    now = utcnow()
    if item.claimed_by_id not in (None, user.id) and item.lease_expires_at and item.lease_expires_at > now:
        raise QueueError(f"item {queue_item_id} is claimed by someone else")
    posts = list(session.exec(select(Post).where(Post.incident_id == item.incident_id).order_by(Post.id)))  # type: ignore[arg-type]
    wanted = set(post_ids)
    moving = [p for p in posts if p.id in wanted]
    if not wanted or len(moving) != len(wanted):
        missing = sorted(wanted - {p.id for p in moving})
        raise InputError(f"posts {missing or '[]'} are not in the incident of queue item {queue_item_id}")
    staying = [p for p in posts if p.id not in wanted]
    if not staying:
        raise InputError("a split must leave at least one post in the original incident")
    old = session.get(Incident, item.incident_id)
    assert old is not None
    lead = _lead_post(session, moving)
    new = Incident(first_seen_at=min(p.published_at for p in moving), last_seen_at=max(p.published_at for p in moving),
                   region=lead.region, district=lead.district, school=lead.school, split_from_id=old.id)
    session.add(new)
    session.flush()
    for p in moving:
        p.incident_id = new.id
        session.add(p)
    old.first_seen_at = min(p.published_at for p in staying)
    old.last_seen_at = max(p.published_at for p in staying)
    session.add(old)
    new_item = _copy_item(session, item, new, lead, len(moving))
    if item.post_id in wanted:
        item.post_id = _lead_post(session, staying).id or item.post_id
    item.post_count = len(staying)
    item.updated_at = now
    session.add(item)
    session.flush()
    from monitor.queue import record_audit

    record_audit(session, user.name, "incident.split", "queue_item", new_item.id, from_queue_item=item.id,
                 from_incident=old.id, incident=new.id, post_ids=sorted(wanted))
    return new_item


def _lead_post(session: Session, posts: Sequence[Post]) -> Post:
    """The most severe, then highest-scored post (the first one when none is scored)."""
    by_id = {p.id: p for p in posts}
    rows = session.exec(
        select(tables.Classification).where(col(tables.Classification.post_id).in_(list(by_id)))
    ).all()
    if not rows:
        return posts[0]
    top = max(rows, key=lambda c: (severity_rank(c.severity), c.score, -(c.post_id or 0)))
    return by_id[top.post_id]


def _copy_item(session: Session, item: QueueItem, incident: Incident, lead: Post, count: int) -> QueueItem:
    """A new review item for the split-off incident: the filter fields of the original, the lead post's place."""
    scored = session.exec(
        select(tables.Classification).where(tables.Classification.post_id == lead.id)
        .order_by(col(tables.Classification.id).desc())
    ).first()
    # The lead post's place when it has one (a Talgar post split off a Kaskelen school's item is not
    # at that school); the original item's otherwise.
    source: Post | QueueItem = lead if lead.region else item
    place = (source.region, source.district, source.school)
    copy = QueueItem(
        incident_id=incident.id or 0, post_id=lead.id or 0, status="new",
        severity=scored.severity if scored else item.severity,
        severity_rank=severity_rank(scored.severity) if scored else item.severity_rank,
        score=scored.score if scored else item.score, category=item.category, categories=list(item.categories),
        model_version=scored.model_version if scored else item.model_version,
        region=place[0], district=place[1], school=place[2],
        platform=lead.platform, language=lead.language, has_video=lead.has_video, post_count=count,
    )
    session.add(copy)
    session.flush()
    return copy


def incident_posts(session: Session, incident_id: int) -> list[Post]:
    """The posts of one incident, oldest first."""
    stmt = select(Post).where(Post.incident_id == incident_id).order_by(Post.published_at, Post.id)  # type: ignore[arg-type]
    return list(session.exec(stmt))

