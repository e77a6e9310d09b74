"""Synthetic rows for the digest and alert tests (no real people; places from the region's gazetteer)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.db import transaction
from monitor.core.tables import Classification, Incident, Post, QueueItem, Source
from monitor.core.vocab import severity_rank

_SEQ = itertools.count(1)


def add_item(
    sessions: sessionmaker[Session],
    *,
    status: str,
    created_at: datetime,
    decided_at: datetime | None = None,
    region: str | None = "Almaty Region",
    district: str | None = "Karasai",
    school: str | None = None,
    severity: str = "high",
    category: str = "physical_violence",
    author: str | None = "@school_fights_kz",
    text: str | None = None,
    evidence: list[dict[str, object]] | None = None,
    published_at: datetime | None = None,
) -> int:
    """One queue item with its incident and post; returns the item id."""
    i = next(_SEQ)
    with transaction(sessions) as session:
        incident = Incident(region=region, district=district, school=school)
        session.add(incident)
        session.flush()
        post = Post(
            platform="telegram",
            external_id=f"seed/{i}",
            url=f"https://t.me/seed/{i}",
            text=text or f"Синтетический пост {i}",
            author=author,
            published_at=published_at or created_at,
            content_key=f"seed{i}",
            incident_id=incident.id,
            region=region,
            district=district,
            school=school,
        )
        session.add(post)
        session.flush()
        item = QueueItem(
            incident_id=incident.id or 0,
            post_id=post.id or 0,
            status=status,
            severity=severity,
            severity_rank=severity_rank(severity),
            score=0.9,
            category=category,
            categories=[category],
            region=region,
            district=district,
            school=school,
            platform="telegram",
            created_at=created_at,
            updated_at=decided_at or created_at,
            decided_at=decided_at,
        )
        session.add(item)
        if evidence is not None:
            session.add(Classification(post_id=post.id or 0, model_version="seed-1", score=0.9, flag=True,
                                       categories={category: 0.9}, severity=severity, evidence=evidence))
        item.model_version = "seed-1"
        session.flush()
        assert item.id is not None
        return item.id


@dataclass(frozen=True)
class Seeded:
    """Ids of the seeded rows."""

    confirmed_karasai: int
    confirmed_taldykorgan: int
    confirmed_old: int
    pending_critical: int
    pending_medium: int
    dismissed: int


# Synthetic, modeled on a local news item: no real people.
KARASAI_TEXT = ("В Каскелене девятиклассник пришёл в школу №12 с ножом и угрожал однокласснику на перемене; "
                "учителя вызвали полицию, никто не пострадал, родителей пригласили в школу.")


def seed_digest(sessions: sessionmaker[Session], now: datetime) -> Seeded:
    """Two items confirmed in the last day (two regions), one confirmed long ago, pending, dismissed, a failing source."""
    day = timedelta(days=1)
    seeded = Seeded(
        confirmed_karasai=add_item(
            sessions,
            status="confirmed",
            created_at=now - 2 * day,
            decided_at=now - timedelta(hours=3),
            district="Karasai",
            school="School No. 12 (Kaskelen)",
            severity="critical",
            category="threat_weapon",
            text=KARASAI_TEXT,
            evidence=[{"start": KARASAI_TEXT.index("нож"), "end": KARASAI_TEXT.index("нож") + 3, "text": "нож"}],
            published_at=now - 2 * day - timedelta(minutes=40),
        ),
        confirmed_taldykorgan=add_item(
            sessions,
            status="confirmed",
            created_at=now - day,
            decided_at=now - timedelta(hours=5),
            region="Zhetysu Region",
            district="Taldykorgan",
            school="Gymnasium No. 4",
            severity="medium",
            category="extortion",
            author="@anon_gossip_4",
        ),
        confirmed_old=add_item(
            sessions,
            status="confirmed",
            created_at=now - 10 * day,
            decided_at=now - 9 * day,
            district="Talgar",
            school="School No. 99",
        ),
        pending_critical=add_item(
            sessions, status="new", created_at=now - 3 * day, district="Enbekshikazakh", severity="critical"
        ),
        pending_medium=add_item(
            sessions,
            status="in_review",
            created_at=now - timedelta(hours=2),
            district="Ili",
            severity="medium",
        ),
        dismissed=add_item(
            sessions,
            status="dismissed",
            created_at=now - day,
            decided_at=now - timedelta(hours=1),
            district="Balkhash",
            school="School No. 77",
        ),
    )
    with transaction(sessions) as session:
        session.add(
            Source(
                name="tg_almaty_news",
                platform="telegram",
                target="almaty_news",
                consecutive_failures=4,
                last_error="HTTP 503 from t.me",
                last_error_at=now - timedelta(hours=1),
            )
        )
        session.add(Source(name="vk_ok", platform="vk", target="club1", consecutive_failures=0))
    return seeded
