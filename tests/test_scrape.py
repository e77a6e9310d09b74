"""The run loop on real databases with the real pipeline: cursors, run records, failures, evidence."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.cli import main
from monitor.core import tables
from monitor.core.config import HttpSettings, Settings
from monitor.core.errors import NotFound
from monitor.ingest.pipeline import Pipeline
from monitor.ingest.scrape import run_sources, select_sources, sync_sources
from tests.scrapers.helpers import Recorded, fixture, html, http_client, source

CH = "zhetysu_mektep"
LATEST, OLDER, NEWER = (f"telegram/{n}.html" for n in ("channel_latest", "channel_before_181", "channel_after_200"))
EMPTY = b"<html><body><section class='tgme_channel_history'></section></body></html>"


def run(settings: Settings, sessions: sessionmaker[Session], recorded: Recorded, *sources_: object,
        **http: object) -> list:
    client = http_client(recorded, **http)
    return run_sources(list(sources_), sessions=sessions, http=client, settings=HttpSettings(),  # type: ignore[arg-type]
                       pipeline=Pipeline(sessions, settings))


def rows(sessions: sessionmaker[Session], model: type) -> list:
    with sessions() as session:
        return list(session.exec(select(model)).all())


def test_cursor_across_runs_and_run_records(settings: Settings, sessions: sessionmaker[Session]) -> None:
    tg = source("tg", "telegram", CH, max_pages=2)
    first = run(settings, sessions, Recorded({f"t.me/s/{CH}": html(fixture(LATEST)),
                                               f"t.me/s/{CH}?before=181": html(fixture(OLDER))}), tg)
    assert first[0].status == "ok" and first[0].pages == 2 and first[0].posts_new == 39
    second = run(settings, sessions, Recorded({f"t.me/s/{CH}?after=200": html(fixture(NEWER)),
                                                f"t.me/s/{CH}?after=205": html(EMPTY)}), tg)
    assert second[0].status == "ok" and second[0].posts_new == 5 and second[0].pages == 2
    [src] = rows(sessions, tables.Source)
    assert src.cursor == {"last_id": 205} and src.consecutive_failures == 0 and src.last_success_at is not None
    runs = rows(sessions, tables.ScrapeRun)
    assert [(r.status, r.pages, r.posts_new) for r in runs] == [("ok", 2, 39), ("ok", 2, 5)]
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in runs)
    assert len(rows(sessions, tables.Post)) == 44


def test_evidence_is_stored_with_its_sha256(settings: Settings, sessions: sessionmaker[Session]) -> None:
    run(settings, sessions, Recorded({f"t.me/s/{CH}": html(fixture(NEWER))}), source("tg", "telegram", CH,
                                                                                       max_pages=1))
    [snap] = rows(sessions, tables.Snapshot)
    assert snap.sha256 == hashlib.sha256(fixture(NEWER)).hexdigest()
    assert snap.url == f"https://t.me/s/{CH}"
    posts = rows(sessions, tables.Post)
    assert {p.snapshot_sha256 for p in posts} == {snap.sha256} and len(posts) == 5


def test_a_later_page_error_keeps_the_earlier_pages_and_other_sources_go_on(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    recorded = Recorded({
        f"t.me/s/{CH}": html(fixture(LATEST)),
        f"t.me/s/{CH}?before=181": httpx.Response(500),
        "t.me/s/closed_channel": httpx.Response(302, headers={"Location": "https://t.me/closed_channel"}),
        "t.me/s/other_channel": html(fixture(NEWER).replace(CH.encode(), b"other_channel")),
    })
    summaries = run(settings, sessions, recorded, source("tg", "telegram", CH, max_pages=3),
                    source("closed", "telegram", "closed_channel"), source("bad", "myspace", "x"),
                    source("other", "telegram", "other_channel", max_pages=1), max_retries=0)
    by_name = {s.source: s for s in summaries}
    assert by_name["tg"].status == "error" and "HTTP 500" in (by_name["tg"].error or "")
    assert by_name["tg"].pages == 1 and by_name["tg"].posts_new == 19
    assert "preview is disabled" in (by_name["closed"].error or "")
    assert "unknown platform 'myspace'" in (by_name["bad"].error or "")
    assert by_name["other"].status == "ok" and by_name["other"].posts_new == 5
    stored = {p.external_id for p in rows(sessions, tables.Post)}
    assert f"{CH}/200" in stored and "other_channel/205" in stored and len(stored) == 24
    sources = {s.name: s for s in rows(sessions, tables.Source)}
    assert sources["tg"].consecutive_failures == 1 and "HTTP 500" in (sources["tg"].last_error or "")
    assert sources["tg"].cursor == {}  # backfill was cut short: the next run starts it again
    runs = {r.source_id: r for r in rows(sessions, tables.ScrapeRun)}
    assert runs[sources["tg"].id].status == "error" and runs[sources["tg"].id].pages == 1

    # The next run succeeds: failures reset, nothing stored twice.
    recorded.routes[f"t.me/s/{CH}?before=181"] = html(fixture(OLDER))
    again = run(settings, sessions, recorded, source("tg", "telegram", CH, max_pages=2))
    assert again[0].status == "ok" and again[0].posts_new == 20
    src = next(s for s in rows(sessions, tables.Source) if s.name == "tg")
    assert src.consecutive_failures == 0 and src.cursor == {"last_id": 200}


def test_sync_sources_resets_the_cursor_when_the_target_changes(sessions: sessionmaker[Session]) -> None:
    ids = sync_sources(sessions, [source("tg", "telegram", CH)])
    with sessions() as session, session.begin():
        row = session.get(tables.Source, ids["tg"])
        assert row is not None
        row.cursor = {"last_id": 10}
    assert sync_sources(sessions, [source("tg", "telegram", CH)]) == ids
    assert rows(sessions, tables.Source)[0].cursor == {"last_id": 10}
    sync_sources(sessions, [source("tg", "telegram", "another_channel")])
    assert rows(sessions, tables.Source)[0].cursor == {}


def test_select_sources() -> None:
    settings = Settings(sources=(source("a", "telegram", "aaa"), source("b", "telegram", "bbb", enabled=False)))
    assert [s.name for s in select_sources(settings, [])] == ["a"]
    assert [s.name for s in select_sources(settings, ["b"])] == ["b"]
    with pytest.raises(NotFound, match="unknown source zzz"):
        select_sources(settings, ["zzz"])


def test_cli_parse_prints_ingest_json_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(fixture(NEWER))
    main(["parse", "telegram", str(page), "--url", f"https://t.me/s/{CH}?after=200"])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["external_id"] for r in records] == [f"{CH}/{n}" for n in range(201, 206)]
    assert {"platform", "external_id", "url", "text", "published_at", "author", "media"} <= set(records[0])
    assert "5 posts" in err
    with pytest.raises(SystemExit) as info:
        main(["parse", "myspace", str(page)])
    assert info.value.code == 1 and "unknown platform" in capsys.readouterr().err


def test_cli_parse_generic_with_a_configured_source(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(fixture("generic/school_news_cp1251.html"))
    config = tmp_path / "config.toml"
    config.write_text('[[sources]]\nname = "school3"\nplatform = "generic"\ntarget = "https://school3.example.kz/news"\n'
                      'options = { item = ".news-item", text = ".body", date = ".date", link = "a.title" }\n')
    main(["--config", str(config), "parse", "generic", str(page), "--url", "https://school3.example.kz/news",
          "--source", "school3"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["external_id"] for r in records] == ["https://school3.example.kz/news/14",
                                                   "https://school3.example.kz/news/13"]


@pytest.mark.slow
def test_cli_scrape_records_an_unreachable_source_and_prints_the_table(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{settings.database.url}"\n'
        # A proxy on a closed local port: every request fails at once, as with no internet.
        '[http]\nproxy = "http://127.0.0.1:9"\nmax_retries = 0\nrate_limit_per_host_s = 0\n'
        f'[[sources]]\nname = "tg"\nplatform = "telegram"\ntarget = "{CH}"\noptions = {{ fallback_host = "" }}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    done = subprocess.run(
        [sys.executable, "-c", "from monitor.cli import main; main()", "--config", str(config), "scrape",
         "--no-classify"], check=False, capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "tg" in done.stdout and "error" in done.stdout and "ConnectError" in done.stdout
    assert "Traceback" not in done.stderr
    [src] = rows(sessions, tables.Source)
    assert src.consecutive_failures == 1 and "ConnectError" in (src.last_error or "")
