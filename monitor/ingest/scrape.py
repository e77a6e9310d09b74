"""The run loop around any scraper: cursor in, pages into the pipeline, run record and source state out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core import tables
from monitor.core.config import HttpSettings, Settings, SourceSettings
from monitor.core.db import transaction
from monitor.core.errors import ConfigError, MonitorError, NotFound
from monitor.core.posts import Post
from monitor.ingest.http import HttpClient
from scrapers import PLATFORMS, Page, Platform

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 2000


class IngestCounts(Protocol):
    """The part of the pipeline's IngestResult the run loop reads."""

    @property
    def new(self) -> int: ...

    @property
    def updated(self) -> int: ...


class Ingest(Protocol):
    """The pipeline seam: store one batch of posts for a source (monitor.ingest.pipeline.Pipeline)."""

    def ingest(self, posts: Sequence[Post], *, source_id: int | None = None) -> IngestCounts: ...


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run of one source did (also stored as a tables.ScrapeRun row)."""

    source: str
    platform: str
    status: str
    pages: int = 0
    posts_new: int = 0
    posts_updated: int = 0
    duration_s: float = 0.0
    error: str | None = None


def select_sources(settings: Settings, names: Sequence[str]) -> list[SourceSettings]:
    """The named sources (even disabled ones), or every enabled source when no name is given."""
    if not names:
        return [s for s in settings.sources if s.enabled]
    by_name = {s.name: s for s in settings.sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(sorted(by_name)) or "none configured"
        raise NotFound(f"unknown source {', '.join(unknown)} (configured: {known})")
    return [by_name[n] for n in dict.fromkeys(names)]


def sync_sources(sessions: sessionmaker[Session], sources: Sequence[SourceSettings]) -> dict[str, int]:
    """Insert or update a tables.Source row per configured source; name -> id."""
    ids: dict[str, int] = {}
    with transaction(sessions) as session:
        rows = {r.name: r for r in session.exec(select(tables.Source)).all()}
        for source in sources:
            row = rows.get(source.name)
            if row is None:
                row = tables.Source(name=source.name, platform=source.platform, target=source.target)
                session.add(row)
            elif (row.platform, row.target) != (source.platform, source.target):
                # A new target is a new stream: the old cursor would skip or misread it.
                row.platform, row.target, row.cursor = source.platform, source.target, {}
            session.flush()
            assert row.id is not None
            ids[source.name] = row.id
    return ids


def list_sources(sessions: sessionmaker[Session]) -> list[tables.Source]:
    """The sources known to the database, with their scraping state, by name."""
    with sessions() as session:
        return list(session.exec(select(tables.Source).order_by(tables.Source.name)))


def _start(sessions: sessionmaker[Session], source_id: int) -> tuple[int, dict[str, Any]]:
    with transaction(sessions) as session:
        source = session.get(tables.Source, source_id)
        assert source is not None
        run = tables.ScrapeRun(source_id=source_id)
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id, dict(source.cursor or {})


def _progress(sessions: sessionmaker[Session], source_id: int, run_id: int, cursor: Mapping[str, Any] | None,
              pages: int, new: int, updated: int) -> None:
    with transaction(sessions) as session:
        run = session.get(tables.ScrapeRun, run_id)
        assert run is not None
        run.pages, run.posts_new, run.posts_updated = pages, new, updated
        if cursor is not None:
            source = session.get(tables.Source, source_id)
            assert source is not None
            source.cursor = dict(cursor)


def _finish(sessions: sessionmaker[Session], source_id: int, run_id: int, error: str | None) -> None:
    with transaction(sessions) as session:
        run = session.get(tables.ScrapeRun, run_id)
        source = session.get(tables.Source, source_id)
        assert run is not None and source is not None
        run.finished_at = tables.utcnow()
        run.status = "error" if error else "ok"
        run.error = error
        if error:
            source.last_error, source.last_error_at = error, run.finished_at
            source.consecutive_failures += 1
        else:
            source.last_success_at = run.finished_at
            source.consecutive_failures = 0


def run_source(
    source: SourceSettings,
    source_id: int,
    *,
    sessions: sessionmaker[Session],
    http: HttpClient,
    settings: HttpSettings,
    pipeline: Ingest,
    registry: Mapping[str, Platform] = PLATFORMS,
    on_page: Callable[[SourceSettings, Page], None] | None = None,
) -> RunSummary:
    """Scrape one source: each page is stored before the next is fetched; any failure is recorded, not raised."""
    started = time.monotonic()
    run_id, cursor = _start(sessions, source_id)
    pages = new = updated = 0
    error: str | None = None
    try:
        platform = registry.get(source.platform)
        if platform is None or platform.scraper is None:
            raise ConfigError(f"sources[{source.name}].platform: unknown platform {source.platform!r} "
                              f"(known: {', '.join(sorted(k for k, p in registry.items() if p.scraper))})")
        scraper = platform.scraper(source, http, settings)
        for page in scraper.pages(cursor):
            if page.posts:
                result = pipeline.ingest(page.posts, source_id=source_id)
                new, updated = new + result.new, updated + result.updated
            pages += 1
            changed = dict(page.cursor) != cursor
            _progress(sessions, source_id, run_id, page.cursor if changed else None, pages, new, updated)
            cursor = dict(page.cursor)
            if on_page is not None:
                on_page(source, page)
    except MonitorError as e:
        error = str(e)
    except httpx.HTTPError as e:  # a transport problem the client did not turn into a ScrapeError
        error = f"{type(e).__name__}: {e}"
    except Exception as e:
        log.exception("source %s failed unexpectedly", source.name)
        error = f"internal error: {type(e).__name__}: {e}"
    if error and len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS] + "…"
    _finish(sessions, source_id, run_id, error)
    return RunSummary(source.name, source.platform, "error" if error else "ok", pages, new, updated,
                      round(time.monotonic() - started, 3), error)


def run_sources(
    sources: Sequence[SourceSettings],
    *,
    sessions: sessionmaker[Session],
    http: HttpClient,
    settings: HttpSettings,
    pipeline: Ingest,
    registry: Mapping[str, Platform] = PLATFORMS,
    on_page: Callable[[SourceSettings, Page], None] | None = None,
    on_done: Callable[[RunSummary], None] | None = None,
) -> list[RunSummary]:
    """Run each source in turn; one failing source never stops the others."""
    ids = sync_sources(sessions, sources)
    summaries = []
    for source in sources:
        summary = run_source(source, ids[source.name], sessions=sessions, http=http, settings=settings,
                             pipeline=pipeline, registry=registry, on_page=on_page)
        summaries.append(summary)
        if on_done is not None:
            on_done(summary)
    return summaries
