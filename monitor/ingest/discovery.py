"""Source discovery: channels and accounts that flagged posts were forwarded from, link to or mention.

A pure part (`references`: what one post points at; `rank`: candidates from posts) and a stored part
(`suggest`: flagged posts from the database, minus sources already watched or decided on; `decide`:
an admin adds a suggestion, as a disabled config entry, or dismisses it; both audited).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.audit import record_audit
from monitor.core.config import Settings, SourceSettings
from monitor.core.db import transaction
from monitor.core.errors import InputError
from monitor.core.places.gazetteer import Places

PLATFORMS = ("telegram", "instagram", "tiktok")
DECISIONS = ("added", "dismissed")
_TG_LINK = re.compile(r"(?:https?://)?(?:www\.)?(?:t|telegram)\.me/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})\b",
                      re.IGNORECASE)
_IG_LINK = re.compile(r"(?:https?://)?(?:www\.)?instagram\.com/([A-Za-z0-9._]{1,30})", re.IGNORECASE)
_TT_LINK = re.compile(r"(?:https?://)?(?:www\.|m\.)?tiktok\.com/@([A-Za-z0-9._]{2,24})", re.IGNORECASE)
# '@name' not inside an e-mail address or a URL.
_MENTION = re.compile(r"(?<![\w@./])@([A-Za-z][A-Za-z0-9_.]{3,31})")
_TG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
_NOT_TG = {"joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv", "setlanguage", "addtheme",
           "login", "contact", "boost", "addlist"}
_NOT_IG = {"p", "reel", "reels", "explore", "stories", "tv", "accounts", "direct", "about", "legal", "developer"}


@dataclass(frozen=True, slots=True)
class Reference:
    """One thing a post points at: a platform's account or channel, and how (forwarded, link, mention)."""

    platform: str
    handle: str
    how: str
    name: str | None = field(default=None, compare=False)  # the display name, when the post shows it


@dataclass
class Candidate:
    """A suggested source with the evidence behind its rank."""

    platform: str
    handle: str
    flagged_posts: int = 0
    forwarded: int = 0
    linked: int = 0
    mentioned: int = 0
    local_posts: int = 0
    last_seen_at: datetime | None = None
    post_ids: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    place: str | None = None  # a watched town or district in the handle or the display name

    @property
    def score(self) -> float:
        """Flagged posts pointing here; a forward or a post placed in a watched region counts half again;
        a watched place in the name ("zhest_taldykorgan") adds one."""
        return round(self.flagged_posts + 0.5 * self.forwarded + 0.5 * self.local_posts + (1 if self.place else 0), 2)

    @property
    def url(self) -> str:
        """The public page of the channel or account."""
        return {"telegram": f"https://t.me/s/{self.handle}", "instagram": f"https://www.instagram.com/{self.handle}/",
                "tiktok": f"https://www.tiktok.com/@{self.handle}"}[self.platform]

    def config_entry(self) -> str:
        """The [[sources]] table to paste into config.toml: disabled until someone checks the source."""
        return config_entry(self.platform, self.handle)


def config_entry(platform: str, handle: str) -> str:
    """A disabled [[sources]] entry for a suggested channel or account."""
    if platform == "telegram":
        kind, target = "telegram", handle
    elif platform == "instagram":
        kind, target = "instagram", f"@{handle}"
    else:
        kind, target = "video", f"https://www.tiktok.com/@{handle}"
    name = f"{platform}_{re.sub(r'[^a-z0-9_]', '_', handle.lower())}"
    return (f'[[sources]]\nname = "{name}"\nplatform = "{kind}"\ntarget = "{target}"\ninterval = "1h"\n'
            f"enabled = false   # suggested by discovery: check the source, then enable it\n")


@dataclass(frozen=True, slots=True)
class PostView:
    """What discovery reads of a stored post."""

    id: int
    platform: str
    external_id: str
    author: str | None
    text: str
    extras: Mapping[str, Any]
    region: str | None
    published_at: datetime


def _telegram_handle(url: str | None) -> str | None:
    if not url:
        return None
    match = _TG_LINK.search(url)
    name = match.group(1) if match else None
    return name.lower() if name and name.lower() not in _NOT_TG else None


def references(post: PostView) -> set[Reference]:
    """Channels and accounts a post was forwarded from, links to or mentions (its own channel excluded)."""
    refs: set[Reference] = set()
    extras = post.extras or {}
    forwarded = extras.get("forwarded_from")
    if isinstance(forwarded, Mapping):
        handle = _telegram_handle(forwarded.get("url") if isinstance(forwarded.get("url"), str) else None)
        name = forwarded.get("name") if isinstance(forwarded.get("name"), str) else None
        if handle:
            refs.add(Reference("telegram", handle, "forwarded", name))
    links = [str(x) for x in extras.get("links") or [] if isinstance(x, str)]
    for text in [post.text, *links]:
        for match in _TG_LINK.finditer(text):
            if match.group(1).lower() not in _NOT_TG:
                refs.add(Reference("telegram", match.group(1).lower(), "link"))
        for match in _IG_LINK.finditer(text):
            name = match.group(1).rstrip(".").lower()
            if name and name not in _NOT_IG:
                refs.add(Reference("instagram", name, "link"))
        for match in _TT_LINK.finditer(text):
            refs.add(Reference("tiktok", match.group(1).rstrip(".").lower(), "link"))
    # A bare @name belongs to the platform it was written on.
    site = str(extras.get("site") or "").lower()
    mention_platform = {"telegram": "telegram", "instagram": "instagram"}.get(post.platform)
    if post.platform == "video" and site == "tiktok":
        mention_platform = "tiktok"
    if mention_platform:
        for match in _MENTION.finditer(post.text):
            name = match.group(1).rstrip(".").lower()
            if mention_platform == "telegram" and not _TG_NAME.match(name):
                continue
            refs.add(Reference(mention_platform, name, "mention"))
    own = _own_handle(post)
    return {r for r in refs if (r.platform, r.handle) != own}


def _own_handle(post: PostView) -> tuple[str, str] | None:
    # A channel's links to itself are no news: its own posts never suggest it.
    if post.platform == "telegram" and "/" in post.external_id:
        return ("telegram", post.external_id.split("/", 1)[0].lower())
    if post.platform == "instagram" and post.author:
        return ("instagram", post.author.lower())
    if post.platform == "video" and str(post.extras.get("site") or "").lower() == "tiktok" and post.author:
        return ("tiktok", post.author.lower())
    return None


def rank(posts: Iterable[PostView], *, watched: AbstractSet[tuple[str, str]] = frozenset(), regions: Sequence[str] = (),
         min_posts: int = 1, places: Places | None = None) -> list[Candidate]:
    """Candidates from flagged posts, best first: (score, flagged posts, forwards, latest) descending."""
    found: dict[tuple[str, str], Candidate] = {}
    local = set(regions)
    for post in posts:
        by_target: dict[tuple[str, str], set[str]] = {}
        for ref in references(post):
            key = (ref.platform, ref.handle)
            if key in watched:
                continue
            by_target.setdefault(key, set()).add(ref.how)
            if ref.name:
                seen = found.setdefault(key, Candidate(*key)).names
                if ref.name not in seen and len(seen) < 5:
                    seen.append(ref.name)
        for key, hows in by_target.items():
            cand = found.setdefault(key, Candidate(*key))
            cand.flagged_posts += 1
            cand.forwarded += "forwarded" in hows
            cand.linked += "link" in hows
            cand.mentioned += "mention" in hows
            cand.local_posts += bool(post.region and (not local or post.region in local))
            if cand.last_seen_at is None or post.published_at > cand.last_seen_at:
                cand.last_seen_at = post.published_at
            if len(cand.post_ids) < 10:
                cand.post_ids.append(post.id)
    out = [c for c in found.values() if c.flagged_posts >= min_posts]
    if places is not None:
        for cand in out:
            cand.place = name_place(places, [cand.handle, *cand.names], local)
    epoch = datetime.min.replace(tzinfo=UTC)
    out.sort(key=lambda c: (c.score, c.flagged_posts, c.forwarded, c.last_seen_at or epoch, c.handle), reverse=True)
    return out


def name_place(places: Places, names: Sequence[str], regions: AbstractSet[str]) -> str | None:
    """The first watched town or district named in a handle or display name ('zhest_taldykorgan' -> Taldykorgan)."""
    for name in names:
        matches, _ = places.analyze(re.sub(r"[_.\d]+", " ", name))
        for match in matches:
            if match.region and (not regions or match.region in regions):
                return match.town or match.district or match.region
    return None


def watched_targets(sources: Iterable[SourceSettings]) -> set[tuple[str, str]]:
    """(platform, handle) of every configured source, in discovery's terms."""
    from scrapers.instagram import account_name
    from scrapers.telegram import channel_name

    out: set[tuple[str, str]] = set()
    for source in sources:
        if source.platform == "telegram":
            name = channel_name(source.target)
            if name:
                out.add(("telegram", name.lower()))
        elif source.platform == "instagram":
            account = account_name(source.target)
            if account and account[0] == "user":
                out.add(("instagram", account[1]))
        elif source.platform == "video":
            match = _TT_LINK.search(source.target)
            if match:
                out.add(("tiktok", match.group(1).lower()))
            ig = _IG_LINK.search(source.target)
            if ig:
                out.add(("instagram", ig.group(1).lower()))
    return out


def _flagged_posts(session: Session, since: datetime) -> list[PostView]:
    flagged = select(tables.Classification.post_id).where(col(tables.Classification.flag).is_(True))
    rows = session.exec(
        select(tables.Post).where(col(tables.Post.id).in_(flagged), col(tables.Post.published_at) >= since)
        .order_by(col(tables.Post.id))
    ).all()
    return [PostView(r.id or 0, r.platform, r.external_id, r.author, r.text, r.extras or {}, r.region,
                     r.published_at) for r in rows]


def suggest(sessions: sessionmaker[Session], settings: Settings, *, days: int = 90, limit: int = 50,
            min_posts: int = 1, include_decided: bool = False, places: Places | None = None) -> list[Candidate]:
    """Ranked suggestions from flagged posts of the last `days`, minus watched and already decided sources."""
    since = datetime.now(UTC) - timedelta(days=days)
    with sessions() as session:
        posts = _flagged_posts(session, since)
        decided = {(d.platform, d.handle) for d in session.exec(select(tables.SourceSuggestion)).all()}
    watched = watched_targets(settings.sources)
    if not include_decided:
        watched |= decided
    ranked = rank(posts, watched=watched, regions=settings.places.regions, min_posts=min_posts, places=places)
    return ranked[:limit]


def decide(sessions: sessionmaker[Session], platform: str, handle: str, status: str, *, actor: str,
           score: float = 0.0, flagged_posts: int = 0) -> tables.SourceSuggestion:
    """Record an admin's decision on a suggestion (added or dismissed) with an audit event; idempotent."""
    if platform not in PLATFORMS:
        raise InputError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    if status not in DECISIONS:
        raise InputError(f"unknown decision {status!r} (known: {', '.join(DECISIONS)})")
    handle = handle.strip().lstrip("@").lower()
    if not re.fullmatch(r"[a-z0-9._]{2,64}", handle):
        raise InputError(f"not a channel or account name: {handle!r}")
    with transaction(sessions) as session:
        row = session.exec(select(tables.SourceSuggestion).where(
            tables.SourceSuggestion.platform == platform, tables.SourceSuggestion.handle == handle)).first()
        if row is None:
            row = tables.SourceSuggestion(platform=platform, handle=handle, status=status, score=score,
                                          flagged_posts=flagged_posts, decided_by=actor)
        elif row.status == status:
            return row
        else:
            row.status, row.decided_by, row.decided_at = status, actor, tables.utcnow()
        session.add(row)
        session.flush()
        record_audit(session, actor, f"source_suggestion.{'add' if status == 'added' else 'dismiss'}",
                     "source_suggestion", row.id, platform=platform, handle=handle, score=score,
                     flagged_posts=flagged_posts, config=config_entry(platform, handle) if status == "added" else None)
        session.refresh(row)
        session.expunge(row)
        return row


def decisions(sessions: sessionmaker[Session]) -> list[tables.SourceSuggestion]:
    """Every decision so far, newest first."""
    with sessions() as session:
        rows = list(session.exec(select(tables.SourceSuggestion)
                                 .order_by(col(tables.SourceSuggestion.decided_at).desc())).all())
        for row in rows:
            session.expunge(row)
        return rows
