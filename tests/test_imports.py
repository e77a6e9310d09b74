"""Collectors' files on import: instaloader's saved structures and yt-dlp's info JSON, with per-file/line errors."""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from monitor.core.posts import Post, post_from_record
from monitor.core.tables import Post as PostRow
from monitor.ingest.imports import files, read_posts
from monitor.ingest.pipeline import Pipeline
from tests.scrapers.helpers import FIXTURES
from tests.test_cli import config, monitor  # noqa: F401  (the fixture is used by name)

IG = FIXTURES / "instagram"
VIDEO = FIXTURES / "video"


@pytest.fixture
def instaloader_dir(tmp_path: Path) -> Path:
    root = tmp_path / "podslushano_sh99_test"
    root.mkdir()
    shutil.copy(IG / "saved_post.json", root / "2025-12-01_12-00-00_UTC.json")
    # instaloader compresses with --compress-json (the default): the same structure, xz-packed.
    node = json.loads((IG / "web_profile_info.json").read_bytes())["data"]["user"]["edge_owner_to_timeline_media"]
    other = {"node": node["edges"][2]["node"], "instaloader": {"node_type": "Post", "version": "4.14"}}
    with lzma.open(root / "2025-11-30_12-00-00_UTC.json.xz", "wt") as f:
        json.dump(other, f)
    profile = {"node": {"username": "podslushano_sh99_test", "id": "51234567890"},
               "instaloader": {"node_type": "Profile", "version": "4.14"}}
    (root / "podslushano_sh99_test_51234567890.json").write_text(json.dumps(profile))
    (root / "2025-11-29_12-00-00_UTC.json").write_text('{"node": {"shortcode": "x"')
    (root / "2025-12-01_12-00-00_UTC_comments.json").write_text("[]")
    (root / "2025-12-01_12-00-00_UTC.txt").write_text("caption")
    (root / "2025-11-28_12-00-00_UTC.json.xz").write_bytes(b"not xz at all")
    return root


def test_instaloader_directory(instaloader_dir: Path) -> None:
    assert [p.name for p in files(instaloader_dir, "instaloader")] == [
        "2025-11-28_12-00-00_UTC.json.xz", "2025-11-29_12-00-00_UTC.json", "2025-11-30_12-00-00_UTC.json.xz",
        "2025-12-01_12-00-00_UTC.json", "podslushano_sh99_test_51234567890.json"]
    items = list(read_posts(instaloader_dir, "instaloader"))
    posts = [i for _, i in items if isinstance(i, Post)]
    errors = {Path(w).name: e for w, e in items if isinstance(e, str)}
    assert [p.external_id for p in posts] == ["C2SideCccc3", "C1VidBbbbb2"]
    assert posts[1].author == "podslushano_sh99_test" and posts[1].has_video
    assert errors["2025-11-28_12-00-00_UTC.json.xz"].startswith("not an xz file")
    assert errors["2025-11-29_12-00-00_UTC.json"].startswith("not JSON")
    assert errors["podslushano_sh99_test_51234567890.json"] == "an instaloader Profile structure, not a post"


def test_instaloader_iphone_struct_and_not_a_structure(tmp_path: Path) -> None:
    item = json.loads((IG / "timeline_graphql.json").read_bytes())["data"][
        "xdt_api__v1__feed__user_timeline_graphql_connection"]["edges"][0]["node"]
    (tmp_path / "a.json").write_text(json.dumps({"node": item, "instaloader": {"node_type": "Post"}}))
    (tmp_path / "b.json").write_text(json.dumps({"shortcode": "old-v3-format"}))
    items = list(read_posts(tmp_path, "instaloader"))
    assert isinstance(items[0][1], Post) and items[0][1].external_id == "C4IphHhhh8"
    message = 'not an instaloader structure (expected {"node": ..., "instaloader": ...})'
    assert items[1] == (str(tmp_path / "b.json"), message)


@pytest.fixture
def ytdlp_dir(tmp_path: Path) -> Path:
    root = tmp_path / "yt"
    (root / "sub").mkdir(parents=True)
    shutil.copy(VIDEO / "vidAAAAAAA1.info.json", root / "vidAAAAAAA1.info.json")
    shutil.copy(VIDEO / "vidBBBBBBB2.info.json", root / "sub" / "vidBBBBBBB2.info.json")
    playlist = {"id": "UCtest", "_type": "playlist", "title": "channel", "extractor_key": "YoutubeTab"}
    (root / "channel.info.json").write_text(json.dumps(playlist))
    huge = json.loads((VIDEO / "vidAAAAAAA1.info.json").read_bytes())
    huge.update(id="vidHUGE", description="x" * 1_000_001)
    (root / "vidHUGE.info.json").write_text(json.dumps(huge))
    undated = {**huge, "id": "vidNODATE", "description": "d", "upload_date": None}
    (root / "vidNODATE.info.json").write_text(json.dumps(undated))
    (root / "notes.json").write_text("{}")  # not *.info.json: not read
    return root


def test_ytdlp_directory(ytdlp_dir: Path) -> None:
    items = list(read_posts(ytdlp_dir, "yt-dlp"))
    posts = [i for _, i in items if isinstance(i, Post)]
    errors = {Path(w).name: e for w, e in items if isinstance(e, str)}
    assert sorted(p.external_id for p in posts) == ["youtube:vidAAAAAAA1", "youtube:vidBBBBBBB2"]
    # The same checks as a JSONL line.
    assert errors == {"vidHUGE.info.json": "text longer than 1000000 characters",
                      "vidNODATE.info.json": "video without id, page URL or upload time"}


def test_ytdlp_json_lines_report_the_line(tmp_path: Path) -> None:
    entries = json.loads((VIDEO / "tiktok_user.json").read_bytes())["entries"]
    lines = [json.dumps(entries[0]), "{broken", "", json.dumps(entries[1]), "[]"]
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = list(read_posts(path, "yt-dlp"))
    assert [(w, i if isinstance(i, str) else i.external_id) for w, i in items] == [
        (f"{path}:line 2", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (f"{path}:line 1", "tiktok:7440000000000000003"),
        (f"{path}:line 4", "tiktok:7440000000000000002"),
        (f"{path}:line 5", "expected a yt-dlp info object"),
    ]


def test_playlist_info_json_gives_one_post_per_entry(tmp_path: Path) -> None:
    shutil.copy(VIDEO / "tiktok_user.json", tmp_path / "zhest_tk_test.info.json")
    items = list(read_posts(tmp_path, "yt-dlp"))
    assert [w.rsplit(" ", 1)[-1] for w, _ in items] == ["entries[0]", "entries[1]", "entries[2]"]
    assert all(isinstance(i, Post) for _, i in items)


def test_imported_records_round_trip_as_jsonl() -> None:
    [(_, post)] = list(read_posts(VIDEO / "vidAAAAAAA1.info.json", "yt-dlp"))
    assert isinstance(post, Post)
    assert post_from_record(json.loads(json.dumps(post.to_record()))) == post


def test_imported_posts_are_stored_once(instaloader_dir: Path, ytdlp_dir: Path, sessions, settings) -> None:
    pipeline = Pipeline(sessions, settings)
    for root, fmt in ((instaloader_dir, "instaloader"), (ytdlp_dir, "yt-dlp")):
        posts = [i for _, i in read_posts(root, fmt) if isinstance(i, Post)]
        assert pipeline.ingest(posts).new == 2
        assert pipeline.ingest(posts).new == 0
    with sessions() as s:
        assert s.exec(select(sa.func.count()).select_from(PostRow)).one() == 4
        row = s.exec(select(PostRow).where(PostRow.external_id == "C1VidBbbbb2")).one()
        assert row.platform == "instagram" and row.extras["comments"] == 57


def test_cli_ingest_formats_and_parse(config: Path, instaloader_dir: Path, ytdlp_dir: Path) -> None:  # noqa: F811
    assert monitor("db", "upgrade", config=config).returncode == 0
    result = monitor("ingest", "--no-classify", "--format", "yt-dlp", str(ytdlp_dir), config=config)
    assert result.returncode == 1, result.stderr
    assert f"{ytdlp_dir / 'vidHUGE.info.json'}: text longer than 1000000 characters" in result.stderr
    assert "new 2," in result.stdout and "skipped 2" in result.stdout
    result = monitor("ingest", "--no-classify", "--format", "instaloader", str(instaloader_dir), config=config)
    assert result.returncode == 1 and "new 2," in result.stdout and "skipped 3" in result.stdout
    empty = monitor("ingest", "--format", "yt-dlp", str(instaloader_dir), config=config)
    assert empty.returncode == 0 and "no yt-dlp files or records found" in empty.stderr
    parsed = monitor("parse", "instagram", str(IG / "web_profile_info.json"), config=config)
    assert parsed.returncode == 0, parsed.stderr
    lines = [json.loads(line) for line in parsed.stdout.splitlines()]
    assert len(lines) == 5 and all(post_from_record(r).platform == "instagram" for r in lines)
    assert "next page cursor QVFDcGFnZTJfY3Vyc29y" in parsed.stderr
    video = monitor("parse", "video", str(VIDEO / "tiktok_user.json"), config=config)
    assert video.returncode == 0 and len(video.stdout.splitlines()) == 3
    refused = monitor("parse", "instagram", str(IG / "login_required.json"), config=config)
    assert refused.returncode == 1 and "asks for a login" in refused.stderr


def test_caption_less_media_post_is_valid_but_an_empty_text_alone_is_not() -> None:
    record = {"platform": "instagram", "external_id": "C9", "url": "https://www.instagram.com/p/C9/", "text": "",
              "published_at": "2026-11-02T10:00:00+05:00"}
    with pytest.raises(ValueError, match="missing field text"):
        post_from_record(record)
    post = post_from_record({**record, "media": [{"type": "video", "url": "https://www.instagram.com/p/C9/"}]})
    assert post.text == "" and post.has_video


def test_files_written_by_instaloader_itself(tmp_path: Path) -> None:
    import instaloader

    item = json.loads((IG / "timeline_graphql.json").read_bytes())["data"][
        "xdt_api__v1__feed__user_timeline_graphql_connection"]["edges"][1]["node"]
    loader = instaloader.Instaloader(quiet=True)
    post = instaloader.Post.from_iphone_struct(loader.context, item)
    # What `instaloader --metadata-json` saves beside each post: compressed by default, or pretty JSON.
    instaloader.save_structure_to_file(post, str(tmp_path / "2025-12-02_08-10-00_UTC.json.xz"))
    instaloader.save_structure_to_file(post.owner_profile, str(tmp_path / "podslushano_sh99_test_51234567890.json"))
    loader.close()
    items = list(read_posts(tmp_path, "instaloader"))
    posts = [i for _, i in items if isinstance(i, Post)]
    assert [(p.external_id, p.author, p.text) for p in posts] == [("C4IphIiii9", "podslushano_sh99_test", "карусель")]
    assert [m.type for m in posts[0].media] == ["photo", "video"]
    assert [e for _, e in items if isinstance(e, str)] == ["an instaloader Profile structure, not a post"]


def test_info_json_written_by_yt_dlp_itself(tmp_path: Path) -> None:
    import yt_dlp

    # An extractor's result as yt-dlp's TikTok extractor returns it; yt-dlp then processes it and,
    # with --write-info-json --skip-download, writes <id>.info.json. No network is touched.
    entries = json.loads((VIDEO / "tiktok_user.json").read_bytes())["entries"]
    result = {k: v for k, v in entries[0].items() if k not in ("_type",)}
    result["formats"] = [{"format_id": "h264", "url": "https://v16.tiktokcdn.example/v.mp4", "ext": "mp4",
                          "vcodec": "h264", "acodec": "aac"}]
    params = {"quiet": True, "skip_download": True, "writeinfojson": True,
              "outtmpl": str(tmp_path / "%(id)s.%(ext)s")}
    with yt_dlp.YoutubeDL(params) as ydl:  # type: ignore[arg-type]
        ydl.process_ie_result(result, download=True)
    assert [p.name for p in tmp_path.iterdir()] == ["7440000000000000003.info.json"]
    [(_, post)] = list(read_posts(tmp_path, "yt-dlp"))
    assert isinstance(post, Post), post
    assert (post.external_id, post.author, post.media[0].duration_s) == ("tiktok:7440000000000000003",
                                                                         "zhest_tk_test", 24)
    assert post.text.startswith("Драка у школы 12, Конаев") and post.extras["views"] == 15400
