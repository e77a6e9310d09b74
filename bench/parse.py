"""Parse throughput: a 20-post Telegram preview page through scrapers.telegram.parse, against snscrape.

Run: .venv/bin/python -m bench.parse [--seconds S]; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from scrapers import PLATFORMS

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "http"
PAGE = FIXTURES / "telegram" / "channel_before_181.html"
URL = "https://t.me/s/zhetysu_mektep?before=181"
OTHERS = {
    "vk": ("vk/wall_get.json", "https://api.vk.com/method/wall.get"),
    "youtube": ("youtube/channel_feed.xml", "https://www.youtube.com/feeds/videos.xml"),
    "news_feed": ("news/feed_rss.xml", "https://news.example.kz/rss"),
    "instagram": ("instagram/web_profile_info.json", "https://i.instagram.com/api/v1/users/web_profile_info/"),
    "video": ("video/tiktok_user.json", "https://www.tiktok.com/@zhest_tk_test"),
    "telegram-comments": ("telegram/discussion_190.html", "https://t.me/zhetysu_mektep/190?embed=1&discussion=1"),
}


def rate(fn: Callable[[], Any], seconds: float) -> tuple[float, int]:
    """Calls per second of fn over about `seconds` (after one warm-up call); also the call count."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed, calls


def snscrape_parse() -> tuple[Callable[[bytes], int] | None, str | None]:
    """snscrape's own Telegram page parser (BeautifulSoup + _soup_to_items), or why it is unavailable."""
    try:
        import bs4
        import snscrape.modules.telegram as sns_telegram
    except Exception as e:
        return None, f"snscrape not importable: {type(e).__name__}: {e}"
    scraper = sns_telegram.TelegramChannelScraper("zhetysu_mektep")

    def run(body: bytes) -> int:
        soup = bs4.BeautifulSoup(body, "lxml")
        return len(list(scraper._soup_to_items(soup, URL)))

    return run, None


def main() -> None:
    """Measure and print the summary."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = ap.parse_args()
    body = PAGE.read_bytes()
    parse = PLATFORMS["telegram"].parse
    posts, _ = parse(body, URL)
    ours, our_calls = rate(lambda: parse(body, URL), args.seconds)
    summary: dict[str, Any] = {
        "bench": "parse",
        "page": str(PAGE.relative_to(PAGE.parents[4])),
        "page_bytes": len(body),
        "posts_per_page": len(posts),
        "pages_per_s": round(ours, 1),
        "posts_per_s": round(ours * len(posts), 1),
        "iterations": our_calls,
        "python": platform.python_version(),
    }
    theirs_fn, why = snscrape_parse()
    if theirs_fn is not None:
        summary["snscrape_posts_per_page"] = theirs_fn(body)
        theirs, _ = rate(lambda: theirs_fn(body), args.seconds)
        summary["snscrape_pages_per_s"] = round(theirs, 1)
        summary["ratio_vs_snscrape"] = round(ours / theirs, 2)
    else:
        summary["ratio_vs_snscrape"] = None
        summary["snscrape"] = why
    others = {}
    for name, (rel, url) in OTHERS.items():
        data = (FIXTURES / rel).read_bytes()
        platform_name = name.split("_")[0]
        parser = PLATFORMS[platform_name].parse
        others[name] = round(rate(partial(parser, data, url), args.seconds / 3)[0], 1)
    summary["other_pages_per_s"] = others
    summary["goals"] = {"pages_per_s": 200, "ratio_vs_snscrape": 3}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
