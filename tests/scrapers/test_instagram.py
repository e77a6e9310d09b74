"""Instagram: golden parses of the web app's JSON, paging, cursors, login walls, 429 backoff, private accounts."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.core.config import HttpSettings, InstagramSettings
from monitor.core.errors import ConfigError, ScrapeError
from scrapers.instagram import (
    InstagramScraper,
    LoginWall,
    PrivateAccount,
    RateLimited,
    account_name,
    load_session_cookies,
    parse,
    parse_page,
)
from tests.scrapers.helpers import Recorded, expected, fixture, http_client, source

USER = "podslushano_sh99_test"
INFO = "i.instagram.com/api/v1/users/web_profile_info/"
GRAPHQL = "www.instagram.com/graphql/query/"
GOLDEN = ["instagram/web_profile_info.json", "instagram/profile_page2.json", "instagram/timeline_graphql.json"]


def as_json(rel: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=fixture(rel), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("rel", GOLDEN)
def test_golden(rel: str) -> None:
    want = expected(rel)
    posts, cursor = parse(fixture(rel), want["url"])
    assert [p.to_record() for p in posts] == want["posts"]
    assert cursor == want["next_cursor"]


def test_profile_details() -> None:
    page = parse_page(fixture("instagram/web_profile_info.json"), "https://i.instagram.com/x")
    assert page.user_id == "51234567890" and page.username == USER and not page.is_private
    assert page.pinned == frozenset({"C0PinAaaaa1"})
    by_id = {p.external_id: p for p in page.posts}
    assert "C3NoTime6" not in by_id  # no timestamp: skipped, not dated "now"
    video = by_id["C1VidBbbbb2"]
    assert video.has_video and video.media[0].duration_s == 31 and video.extras["comments"] == 57
    assert video.published_at == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    sidecar = by_id["C2SideCccc3"]
    assert [m.type for m in sidecar.media] == ["photo", "video"]
    assert by_id["C3ImgDdddd4"].text == ""
    # Comments are capped: none kept unless asked for.
    capped = parse_page(fixture("instagram/web_profile_info.json"), "u", max_comments=1)
    assert len({p.external_id: p for p in capped.posts}["C1VidBbbbb2"].extras["comment_sample"]) == 1
    none = parse_page(fixture("instagram/web_profile_info.json"), "u", max_comments=0)
    assert all("comment_sample" not in p.extras for p in none.posts)


def test_saved_instaloader_structure_parses_as_one_post() -> None:
    posts, cursor = parse(fixture("instagram/saved_post.json"), "file:///saved_post.json")
    assert [p.external_id for p in posts] == ["C1VidBbbbb2"] and cursor is None


def test_bad_answers_are_clear_errors() -> None:
    with pytest.raises(LoginWall, match="asks for a login"):
        parse(fixture("instagram/login_required.json"), "u")
    with pytest.raises(LoginWall, match="HTML page"):
        parse(b"<!DOCTYPE html><html><body>Log in</body></html>", "u")
    with pytest.raises(RateLimited, match="wait"):
        parse(b'{"status": "fail", "message": "Please wait a few minutes before you try again."}', "u")
    with pytest.raises(ScrapeError, match="not JSON"):
        parse(b"{truncated", "u")
    assert parse(b"", "u") == ([], None)
    assert parse(b'{"data": {"user": {"edge_owner_to_timeline_media": {"edges": [{"node": 5}]}}}}', "u") == ([], None)


def test_account_names() -> None:
    assert account_name("@Podslushano_SH99_test") == ("user", "podslushano_sh99_test")
    assert account_name("https://www.instagram.com/podslushano_sh99_test/") == ("user", USER)
    assert account_name("#буллинг") == ("tag", "буллинг")
    assert account_name("https://www.instagram.com/explore/tags/taldykorgan/") == ("tag", "taldykorgan")
    assert account_name("https://www.instagram.com/p/C1VidBbbbb2/") is None
    assert account_name("bad name!") is None


def scraper(recorded: Recorded, target: str = f"@{USER}", max_pages: int = 5, settings: HttpSettings | None = None,
            **options: Any) -> InstagramScraper:
    return InstagramScraper(source("ig", "instagram", target, max_pages=max_pages, options=options),
                            http_client(recorded), settings or HttpSettings())


def test_first_run_pages_back_by_end_cursor_and_saves_the_cursor_after_the_last_page() -> None:
    recorded = Recorded({INFO: as_json("instagram/web_profile_info.json"), GRAPHQL: as_json("instagram/profile_page2.json")})
    pages = list(scraper(recorded).pages({}))
    assert [len(p.posts) for p in pages] == [5, 2]
    first = recorded.requests[0]
    assert first.url.params["username"] == USER and first.headers["X-IG-App-ID"] == "936619743392459"
    variables = json.loads(recorded.requests[1].url.params["variables"])
    assert variables == {"id": "51234567890", "first": 12, "after": "QVFDcGFnZTJfY3Vyc29y"}
    assert pages[0].cursor == {}
    assert pages[1].cursor == {"last_taken_at": 1764590400}
    snap = pages[0].posts[0].snapshot
    assert snap is not None and snap.body == fixture("instagram/web_profile_info.json")


def test_later_run_keeps_only_new_posts_and_stops_at_seen_ones_despite_the_old_pinned_post() -> None:
    recorded = Recorded({INFO: as_json("instagram/web_profile_info.json"), GRAPHQL: as_json("instagram/profile_page2.json")})
    pages = list(scraper(recorded).pages({"last_taken_at": 1764504000}))
    assert len(recorded.requests) == 1  # an old unpinned post on page one: no need to page back
    assert [p.external_id for p in pages[0].posts] == ["C1VidBbbbb2"]
    assert pages[0].cursor == {"last_taken_at": 1764590400}
    # Nothing new at all: the cursor stays.
    recorded2 = Recorded({INFO: as_json("instagram/web_profile_info.json")})
    again = list(scraper(recorded2).pages({"last_taken_at": 1764590400}))
    assert again[0].posts == () and again[0].cursor == {"last_taken_at": 1764590400}


def test_empty_account() -> None:
    recorded = Recorded({INFO: as_json("instagram/empty_profile.json")})
    pages = list(scraper(recorded, target="new_page_test").pages({}))
    assert len(pages) == 1 and pages[0].posts == () and pages[0].cursor == {}


def test_private_account_is_a_clear_source_error() -> None:
    recorded = Recorded({INFO: as_json("instagram/private_profile.json")})
    with pytest.raises(PrivateAccount, match="private") as info:
        list(scraper(recorded, target="closed_class_test").pages({}))
    assert "source ig" in str(info.value)


@pytest.mark.parametrize(("answer", "error", "message"), [
    (httpx.Response(429, text="slow down"), RateLimited, "HTTP 429"),
    (httpx.Response(401, json={"message": "", "status": "fail"}), LoginWall, "HTTP 401"),
    (httpx.Response(302, headers={"Location": "https://www.instagram.com/accounts/login/?next=/x/"}), LoginWall,
     "login page"),
    (httpx.Response(200, content=fixture("instagram/login_required.json")), LoginWall, "asks for a login"),
])
def test_refusals_fail_the_run_and_save_a_backoff(answer: httpx.Response, error: type[ScrapeError],
                                                  message: str) -> None:
    recorded = Recorded({INFO: answer})
    pages: list[Any] = []
    with pytest.raises(error, match=message) as info:
        pages.extend(scraper(recorded).pages({"last_taken_at": 5}))
    assert "backing off until" in str(info.value) and "source ig" in str(info.value)
    assert len(pages) == 1 and pages[0].posts == ()
    until = datetime.fromisoformat(pages[0].cursor["backoff_until"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    assert pages[0].cursor["last_taken_at"] == 5
    # The next run does not even ask while the backoff lasts.
    again = Recorded({INFO: as_json("instagram/web_profile_info.json")})
    with pytest.raises(RateLimited, match="backing off"):
        list(scraper(again).pages(pages[0].cursor))
    assert again.requests == []
    # Once it has passed, the source is read again.
    past = {**pages[0].cursor, "backoff_until": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
    assert len(next(iter(scraper(again, max_pages=1).pages(past))).posts) == 5


def test_unknown_account_is_404() -> None:
    recorded = Recorded({INFO: httpx.Response(404, json={})})
    with pytest.raises(ScrapeError, match="no such Instagram account"):
        list(scraper(recorded).pages({}))


def test_hashtag_target_reads_one_page() -> None:
    body = json.dumps({"graphql": {"hashtag": {"name": "taldykorgan", "edge_hashtag_to_media": json.loads(
        fixture("instagram/profile_page2.json"))["data"]["user"]["edge_owner_to_timeline_media"]}}})
    recorded = Recorded({"www.instagram.com/explore/tags/taldykorgan/": httpx.Response(200, text=body)})
    pages = list(scraper(recorded, target="#taldykorgan").pages({}))
    assert [p.external_id for p in pages[0].posts] == ["C0OldFfff6", "C0OldGggg7"]
    assert recorded.requests[0].url.params["__a"] == "1"


def test_session_file_cookies_are_sent(tmp_path: Path) -> None:
    session = tmp_path / "session-viewer"
    session.write_bytes(pickle.dumps({"sessionid": "s3cr3t", "csrftoken": "tok", "ds_user_id": "1"}))
    settings = HttpSettings(instagram=InstagramSettings(session_file=str(session), session_user="viewer"))
    recorded = Recorded({INFO: as_json("instagram/empty_profile.json")})
    list(scraper(recorded, settings=settings).pages({}))
    headers = recorded.requests[0].headers
    assert "sessionid=s3cr3t" in headers["Cookie"] and headers["X-CSRFToken"] == "tok"
    assert load_session_cookies(InstagramSettings()) == {}
    bad = tmp_path / "bad"
    bad.write_bytes(pickle.dumps({"no": "csrf"}))
    with pytest.raises(ConfigError, match="not an instaloader session"):
        load_session_cookies(InstagramSettings(session_file=str(bad)))
    with pytest.raises(ConfigError, match="cannot read"):
        load_session_cookies(InstagramSettings(session_file=str(tmp_path / "missing")))


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match=r"sources\[ig\]\.target"):
        scraper(Recorded({}), target="https://www.instagram.com/p/C1VidBbbbb2/")
    with pytest.raises(ConfigError, match="unknown option"):
        scraper(Recorded({}), colour=1)


def _iphone_items() -> list[dict[str, Any]]:
    data = json.loads(fixture("instagram/timeline_graphql.json"))
    return [e["node"] for e in data["data"]["xdt_api__v1__feed__user_timeline_graphql_connection"]["edges"]]


def _loader_nodes(count: int) -> list[dict[str, Any]]:
    """Nodes as instaloader hands them over (Post.from_iphone_struct(...)._asdict()), newest first."""
    import instaloader

    context = instaloader.Instaloader(quiet=True).context
    base = _iphone_items()[0]
    nodes = []
    for i in range(count):
        item = {**base, "code": f"C5Loader{i:03d}", "pk": str(4000 + i), "taken_at": 1764676800 - i * 3600}
        node: dict[str, Any] = instaloader.Post.from_iphone_struct(context, item)._asdict()
        nodes.append(node)
    context.close()
    return nodes


def loader_scraper(nodes: Any, max_pages: int = 5, settings: HttpSettings | None = None) -> InstagramScraper:
    return InstagramScraper(source("ig", "instagram", f"@{USER}", max_pages=max_pages, options={"mode": "instaloader"}),
                            http_client(Recorded({})), settings or HttpSettings(), loader_posts=lambda: iter(nodes))


def test_instaloader_mode_pages_its_posts_and_keeps_the_cursor() -> None:
    nodes = _loader_nodes(30)
    pages = list(loader_scraper(nodes).pages({}))
    assert [len(p.posts) for p in pages] == [12, 12, 6, 0]  # the posts ran out: a last, empty page saves the cursor
    first = pages[0].posts[0]
    assert first.external_id == "C5Loader000" and first.author == USER and first.has_video
    assert first.text == "Опять буллинг в 7А, новое видео" and first.extras["comments"] == 2
    assert first.snapshot is not None and json.loads(first.snapshot.body)[0]["shortcode"] == "C5Loader000"
    assert [p.cursor for p in pages[:3]] == [{}, {}, {}] and pages[3].cursor == {"last_taken_at": 1764676800}
    # A later run reads only until the first post already seen.
    again = list(loader_scraper(nodes).pages({"last_taken_at": 1764676800 - 2 * 3600}))
    assert [p.external_id for p in again[0].posts] == ["C5Loader000", "C5Loader001"] and len(again) == 1
    capped = list(loader_scraper(nodes, max_pages=2).pages({}))
    assert [len(p.posts) for p in capped] == [12, 12] and capped[1].cursor == {"last_taken_at": 1764676800}


@pytest.mark.parametrize(("raised", "error", "message"), [
    ("TooManyRequestsException", RateLimited, "rate limit"),
    ("LoginRequiredException", LoginWall, "asks for a login"),
    ("PrivateProfileNotFollowedException", PrivateAccount, "private"),
    ("ProfileNotExistsException", ScrapeError, "no such Instagram account"),
    ("BadResponseException", ScrapeError, "instaloader: BadResponseException"),
])
def test_instaloader_errors_become_source_errors(raised: str, error: type[ScrapeError], message: str) -> None:
    import instaloader.exceptions as ie

    nodes = _loader_nodes(13)

    def failing() -> Any:
        yield from nodes[:12]  # the first page is stored before the failure
        raise getattr(ie, raised)("answer of Instagram")

    got: list[Any] = []
    with pytest.raises(error, match=message) as info:
        got.extend(InstagramScraper(source("ig", "instagram", f"@{USER}", options={"mode": "instaloader"}),
                                    http_client(Recorded({})), HttpSettings(), loader_posts=failing).pages({}))
    assert "source ig" in str(info.value)
    assert len(got[0].posts) == 12
    if error in (RateLimited, LoginWall):
        assert "backoff_until" in got[-1].cursor


def test_rate_controller_keeps_our_per_host_interval_and_never_sleeps_through_a_429() -> None:
    import instaloader

    from scrapers.instagram import PerHostRateController

    now = [100.0]
    slept: list[float] = []
    http = http_client(Recorded({}), rate_limit_per_host_s=2.0, backoff_max_s=60.0)
    http.clock = lambda: now[0]
    http.sleep = slept.append
    loader = instaloader.Instaloader(quiet=True, rate_controller=lambda ctx: PerHostRateController(ctx, http, "ig"))
    controller = loader.context._rate_controller
    assert isinstance(controller, PerHostRateController)
    controller.wait_before_query("other")
    controller.wait_before_query("other")
    assert slept == [2.0]  # our interval for www.instagram.com, shared with the web mode's requests
    with pytest.raises(RateLimited, match="HTTP 429"):
        controller.handle_429("other")
    with pytest.raises(RateLimited, match="would wait 600 s"):
        controller.sleep(600)
    controller.sleep(5)
    assert slept == [2.0, 5]
    loader.close()


def test_instaloader_mode_configuration() -> None:
    with pytest.raises(ConfigError, match="options.mode"):
        scraper(Recorded({}), mode="app")
