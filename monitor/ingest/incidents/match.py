"""Which incident a post belongs to: the signals (links, media, words, numbers, embeddings) and a per-transaction index."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from monitor.core.boundary import clamp_shift
from monitor.core.classification import Embed
from monitor.core.config import Settings
from monitor.core.errors import ClassifierError
from monitor.core.places.names import normalize
from monitor.core.tables import Incident, Post
from monitor.ingest.incidents.evidence import (
    Facts,
    Join,
    Place,
    Report,
    Rules,
    clash,
    decide,
    facts_of,
    shares_detail,
)

log = logging.getLogger(__name__)


MAX_COMPARED_CHARS = 20_000
_URL = re.compile(r"https?://\S+|www\.\S+")
_TAG = re.compile(r"[#@]\w+")
_WORD = re.compile(r"\w+")
# Words that say nothing about which event a post is about (reposters add them).
_FILLER = frozenset(
    ["и", "в", "на", "с", "по", "а", "но", "что", "это", "как", "не", "да", "уже", "все", "вот", "ужас", "жесть",
     "смотрите", "repost", "репост"]
)
_INDEX_KEY = "monitor.incident_index"


def text_tokens(text: str) -> list[str]:
    """Words of a post for comparison: normalized, without links, hashtags, mentions, emoji or punctuation."""
    # The opening is what reposts share; a 1 MB post costs no more than 20,000 characters.
    norm = _TAG.sub(" ", _URL.sub(" ", normalize(text[:MAX_COMPARED_CHARS])))
    return [w for w in _WORD.findall(norm) if w not in _FILLER and (len(w) > 1 or w.isdigit())]


def shingles(tokens: Sequence[str]) -> frozenset[tuple[str, ...]]:
    """Word bigrams (single words for very short texts)."""
    if len(tokens) < 3:
        return frozenset((t,) for t in tokens)
    return frozenset(pairwise(tokens))


def containment(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Share of the smaller set inside the larger: a repost with added comments stays near 1."""
    small = min(len(a), len(b))
    if small < 3:
        return 1.0 if a and a == b else 0.0
    return len(a & b) / small


def text_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Containment of the smaller text's word bigrams in the larger's."""
    return containment(shingles(a), shingles(b))


def numbers_conflict(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when each text has a number the other lacks (7th grade vs 9th grade, 2 pupils vs 5)."""
    na, nb = {t for t in a if t.isdigit()}, {t for t in b if t.isdigit()}
    return bool(na - nb) and bool(nb - na)


def url_key(url: str) -> str:
    """A URL compared loosely: no scheme, www, fragment or trailing slash; Telegram's /s/ preview path folded."""
    key = re.sub(r"^[a-z]+://", "", url.strip().lower()).split("#", 1)[0].rstrip("/")
    key = key.removeprefix("www.").removeprefix("m.")
    return re.sub(r"^(t\.me|telegram\.me)/s/", "t.me/", key)


def media_keys(media: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The photo/video and thumbnail URLs of a post's media list."""
    keys: set[str] = set()
    for m in media or []:
        for field in ("url", "thumbnail_url"):
            if isinstance(m.get(field), str) and m[field]:
                keys.add(url_key(m[field]))
    return frozenset(keys)


def references(extras: dict[str, Any]) -> frozenset[str]:
    """URLs of posts a post forwards, quotes, reposts or links to (scraper extras)."""
    extras = extras or {}
    found: list[Any] = [extras.get(k) for k in ("repost_of", "quote_of", "quoted_url", "original_url", "shared_url")]
    for k in ("forwarded_from", "link_preview", "quote", "repost"):
        if isinstance(extras.get(k), dict):
            found.append(extras[k].get("url"))
    if isinstance(extras.get("links"), list):
        found += extras["links"]
    return frozenset(url_key(u) for u in found if isinstance(u, str) and u.startswith(("http://", "https://")))


@dataclass(slots=True)
class Signature:
    """What grouping compares of a stored post, computed once per transaction."""

    id: int
    incident_id: int | None
    published_at: datetime
    url: str
    refs: frozenset[str]
    media: frozenset[str]
    shingles: frozenset[tuple[str, ...]]
    numbers: frozenset[str]
    language: str
    place: tuple[str | None, str | None, str | None, str | None]  # region, district, town, school
    embedding: bytes | None
    places: tuple[Place, ...] = ()
    facts: Facts = dataclasses.field(default_factory=Facts)
    cached: Report | None = None  # the decider's view, built once (reset when the embedding is set)

    @classmethod
    def of(cls, post: Post) -> Signature:
        """The signature of a post row."""
        tokens = text_tokens(post.text)
        found = tuple((p.get("region"), p.get("district"), p.get("town")) for p in (post.places or [])
                      if isinstance(p, dict) and p.get("region"))
        if not found and post.region:
            found = ((post.region, post.district, post.town),)
        return cls(post.id or 0, post.incident_id, post.published_at, url_key(post.url), references(post.extras),
                   media_keys(post.media), shingles(tokens), frozenset(t for t in tokens if t.isdigit()),
                   post.language, (post.region, post.district, post.town, post.school), post.embedding,
                   found, facts_of(post.text))

    def report(self) -> Report:
        """The decider's view of this post."""
        if self.cached is None:
            vector = np.frombuffer(self.embedding, dtype="<f4") if self.embedding is not None else None
            self.cached = Report(self.id, self.published_at, self.url, self.refs, self.media, self.shingles,
                                 self.places, self.facts, vector)
        return self.cached

    def conflicts(self, other: Signature) -> bool:
        """Each has a number the other lacks."""
        return bool(self.numbers - other.numbers) and bool(other.numbers - self.numbers)

    def same_place(self, other: Signature) -> bool:
        """Both name the same school, town or district (not merely no contradiction)."""
        return self.place[0] == other.place[0] and any(
            x is not None and x == y for x, y in zip(self.place[1:], other.place[1:], strict=True)
        )


@dataclass
class _Index:
    """The grouped posts of a time range, loaded once per transaction and kept up to date by `remember`."""

    transaction: Any
    lo: datetime
    hi: datetime
    posts: dict[int, Signature]
    places: dict[int, tuple[str | None, str | None, str | None]]  # incident id -> region, district, school


def _load(session: Session, index: _Index, lo: datetime, hi: datetime) -> None:
    stmt = (
        select(Post, Incident.region, Incident.district, Incident.school)
        .join(Incident, Incident.id == Post.incident_id)  # type: ignore[arg-type]
        .where(col(Post.published_at) >= lo, col(Post.published_at) <= hi)
    )
    for post, region, district, school in session.exec(stmt):
        index.posts[post.id or 0] = Signature.of(post)
        index.places[post.incident_id or 0] = (region, district, school)


def _index(session: Session, lo: datetime, hi: datetime) -> _Index:
    """The index covering [lo, hi]; a miss loads one more window on each side, so a batch of posts
    published close together reads the grouped posts once."""
    current = session.get_transaction()
    index: _Index | None = session.info.get(_INDEX_KEY)
    if index is None or index.transaction is not current:
        pad = hi - lo
        index = _Index(current, clamp_shift(lo, -pad), clamp_shift(hi, pad), {}, {})
        _load(session, index, index.lo, index.hi)
        session.info[_INDEX_KEY] = index
        return index
    pad = hi - lo
    if lo < index.lo:
        _load(session, index, clamp_shift(lo, -pad), index.lo)
        index.lo = clamp_shift(lo, -pad)
    if hi > index.hi:
        _load(session, index, index.hi, clamp_shift(hi, pad))
        index.hi = clamp_shift(hi, pad)
    return index


def remember(session: Session, post: Post, incident: Incident) -> None:
    """Add a just-grouped post (and its incident's place) to the transaction's index."""
    index: _Index | None = session.info.get(_INDEX_KEY)
    if index is not None and index.transaction is session.get_transaction() and post.id is not None:
        index.posts[post.id] = Signature.of(post)
        index.places[incident.id or 0] = (incident.region, incident.district, incident.school)


def forget(session: Session) -> None:
    """Drop the transaction's index (after posts moved between incidents)."""
    session.info.pop(_INDEX_KEY, None)


@dataclass(frozen=True, slots=True)
class Found:
    """The incident a post joins, the post it matched and the evidence."""

    incident_id: int
    post_id: int
    join: Join

    @property
    def reason(self) -> str:
        """The kind of evidence ("link", "media", "text", "semantic", "details")."""
        return self.join.reason

    @property
    def score(self) -> float:
        """The evidence's score (1.0 for a shared link or media file)."""
        return self.join.score

    def explain(self) -> str:
        """'same meaning as post 12 (0.88); agrees on school 4, weapon axe, place Petropavl'."""
        return self.join.explain(self.post_id)


_RANK = {"link": 4, "media": 4, "text": 3, "semantic": 2, "details": 1}


def rules_of(settings: Settings) -> Rules:
    """The decider's thresholds from `[places]`."""
    p = settings.places
    return Rules(window_h=p.incident_window_h, text_similarity=p.incident_text_similarity,
                 semantic_similarity=p.incident_embedding_similarity,
                 strong_semantic_similarity=p.incident_strong_embedding_similarity)


def find_incident(session: Session, post: Post, *, settings: Settings, embed: Embed | None = None) -> Found | None:
    """The incident this post reports, with the evidence; None when no grouped post is the same event."""
    window = timedelta(hours=settings.places.incident_window_h)
    # Saturating arithmetic: a stored post dated at the calendar's edge must not raise here.
    lo, hi = clamp_shift(post.published_at, -window), clamp_shift(post.published_at, window)
    index = _index(session, lo, hi)
    candidates = [s for s in index.posts.values() if s.id != post.id and lo <= s.published_at <= hi]
    if not candidates:
        return None
    if len(candidates) > settings.places.incident_max_candidates:
        candidates.sort(key=lambda s: s.published_at, reverse=True)
        candidates = candidates[: settings.places.incident_max_candidates]
    rules = rules_of(settings)
    mine = Signature.of(post)
    ours = mine.report()
    joins: list[tuple[Signature, Join]] = []
    undecided: list[Signature] = []
    for c in candidates:
        theirs = c.report()
        join = decide(ours, theirs, rules)
        if join is not None:
            joins.append((c, join))
        elif embed is not None and (ours.embedding is None or theirs.embedding is None) \
                and shares_detail(ours, theirs) and not clash(ours, theirs):
            undecided.append(c)  # only the encoder can still join these: ask it for them alone
    if undecided and embed is not None and _embed(session, post, mine, undecided, embed):
        ours = mine.report()
        for c in undecided:
            join = decide(ours, c.report(), rules)
            if join is not None:
                joins.append((c, join))
    joins.sort(key=lambda cj: (_RANK.get(cj[1].reason, 0), cj[1].score), reverse=True)
    for c, join in joins:
        incident = c.incident_id or 0
        # Every other post of that incident must not contradict this one (another school, another weapon).
        others = [o for o in candidates if o.incident_id == incident and o.id != c.id]
        if join.reason in ("link", "media") or not any(clash(ours, o.report()) for o in others):
            return Found(incident, c.id, join)
    return None


def _embed(session: Session, post: Post, mine: Signature, rest: list[Signature], embed: Embed) -> bool:
    """Fill in the missing embeddings of the post and the candidates (stored with the posts); False on failure."""
    todo = [(post, mine)] if post.embedding is None else []
    for c in rest:
        if c.embedding is None:
            row = session.get(Post, c.id)
            if row is not None:
                todo.append((row, c))
    if not todo:
        return True
    try:
        vectors = np.asarray(embed([row.text for row, _ in todo]), dtype="<f4")
    except (ClassifierError, RuntimeError, ValueError) as e:
        log.warning("incident grouping without embeddings: %s", e)
        return False
    for (row, sig), vector in zip(todo, vectors, strict=True):
        row.embedding = sig.embedding = vector.tobytes()
        sig.cached = None
        session.add(row)
    return True
