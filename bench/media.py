"""Media hashing throughput and near-neighbour lookup time at a year of posts' worth of hashes.

python -m bench.media [--hashes 1000000] [--queries 500] [--seconds 10] [--db]   (JSON summary last)

- frames: a real H.264 video (640x360, 25 fps, moving textured scene) through `hash_video`: decoded frames
  per second and keyframes hashed (PDQ of frame + content box, JPEG) per second; PDQ alone per frame.
- lookup: the multi-index hash index over N hashes shaped like video keyframes (groups of 12 near-duplicate
  frames around a base hash, as one video's keyframes are), queried with reposts (base hash + up to 31 bits
  flipped, must be found) and unrelated hashes; mean / p50 / p99 milliseconds, build seconds, bytes.
- --db: also time loading the N hashes from a SQLite media_frame table into the index (what the job does).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from monitor.core.config import MediaSettings
from monitor.ingest.media.hashing import hash_video, pdq
from monitor.ingest.media.index import HashIndex
from tests.media import videos


def _flip(rng: np.random.Generator, rows: np.ndarray, bits: int) -> np.ndarray:
    out = np.unpackbits(rows, axis=1)
    for r in out:
        r[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(out, axis=1)


def frame_speed(seconds: float) -> dict[str, object]:
    """Decode + keyframe hashing rate of a real encoded video."""
    fps = 25
    old = videos.FPS
    videos.FPS = fps
    try:
        frames = videos.scene(11, seconds=seconds, size=(640, 360))
        data = videos.encode(frames, fps=fps)
    finally:
        videos.FPS = old
    settings = MediaSettings()
    started = time.perf_counter()
    hashed = hash_video(data, settings)
    took = time.perf_counter() - started
    sample = frames[: min(100, len(frames))]
    started = time.perf_counter()
    for f in sample:
        pdq(f)
    pdq_took = time.perf_counter() - started
    return {"video_s": seconds, "video_frames": len(frames), "keyframes": len(hashed.frames),
            "hash_video_s": round(took, 3), "decoded_frames_per_s": round(len(frames) / took, 1),
            "keyframes_hashed_per_s": round(len(hashed.frames) / took, 1),
            "pdq_frames_per_s_640x360": round(len(sample) / pdq_took, 1)}


def lookup_speed(n: int, queries: int, seed: int = 1) -> tuple[dict[str, object], np.ndarray]:
    """Build and query the index over n keyframe-like hashes."""
    rng = np.random.default_rng(seed)
    group = 12
    bases = rng.integers(0, 256, (-(-n // group), 32), dtype=np.uint8)
    hashes = np.repeat(bases, group, axis=0)[:n]
    # Frames of one video differ from its first frame by up to ~40 bits.
    noise = np.unpackbits(np.zeros((n, 32), np.uint8), axis=1)
    cols = rng.integers(0, 256, (n, 20))
    np.put_along_axis(noise, cols, 1, axis=1)
    hashes = hashes ^ np.packbits(noise, axis=1)
    keys = np.arange(n) // group
    started = time.perf_counter()
    index = HashIndex.build(hashes, keys.tolist())
    build_s = time.perf_counter() - started
    picks = rng.integers(0, n, queries)
    reposts = _flip(rng, hashes[picks].copy(), 31)
    unrelated = rng.integers(0, 256, (queries, 32), dtype=np.uint8)
    times, found = [], 0
    for q, want in zip(reposts, keys[picks], strict=True):
        t = time.perf_counter()
        hits = index.near(q.tobytes(), 31)
        times.append(time.perf_counter() - t)
        found += any(k == want for k, _ in hits)
    for q in unrelated:
        t = time.perf_counter()
        index.near(q.tobytes(), 31)
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    size = index._hashes.nbytes + index._keys.nbytes + sum(a.nbytes for a in index._sorted + index._order)
    return {"hashes": n, "build_s": round(build_s, 3), "queries": len(times),
            "lookup_ms_mean": round(float(ms.mean()), 3), "lookup_ms_p50": round(float(np.percentile(ms, 50)), 3),
            "lookup_ms_p99": round(float(np.percentile(ms, 99)), 3),
            "reposts_found": f"{found}/{queries}", "index_bytes": int(size)}, hashes


def db_load(hashes: np.ndarray) -> dict[str, object]:
    """Seconds to load the hashes from a migrated SQLite database into the index (IndexCache.refresh)."""
    import sqlalchemy as sa

    from monitor.core.config import DatabaseSettings
    from monitor.core.db import create_db_engine, session_factory, upgrade
    from monitor.core.tables import MediaFrame, MediaItem, Post, utcnow
    from monitor.ingest.media.job import IndexCache

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(DatabaseSettings(url=f"sqlite:///{Path(tmp) / 'bench.db'}"))
        upgrade(engine)
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(sa.insert(Post.__table__), [{  # type: ignore[attr-defined]
                "platform": "bench", "external_id": "1", "url": "https://x", "text": "", "language": "ru",
                "published_at": now, "collected_at": now, "updated_at": now, "media": [], "extras": {},
                "has_video": True, "content_key": "k", "places": [], "has_education_context": True}])
            conn.execute(sa.insert(MediaItem.__table__), [{  # type: ignore[attr-defined]
                "post_id": 1, "position": 0, "kind": "video", "url": "https://x", "url_key": "k", "status": "fetched",
                "attempts": 1, "size": 0, "frame_count": 0, "created_at": now}])
            rows = [{"media_item_id": 1, "idx": i, "t_s": 0.0, "pdq": h.tobytes(), "quality": 100}
                    for i, h in enumerate(hashes)]
            for i in range(0, len(rows), 50_000):
                conn.execute(sa.insert(MediaFrame.__table__), rows[i:i + 50_000])  # type: ignore[attr-defined]
        sessions = session_factory(engine)
        started = time.perf_counter()
        with sessions() as session:
            index = IndexCache().refresh(session, 50)
            index.near(hashes[0].tobytes())
        took = time.perf_counter() - started
        engine.dispose()
    return {"db_load_to_index_s": round(took, 2)}


def main() -> None:
    """Run the benchmarks; print details, then one JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--db", action="store_true", help="also time loading the hashes from SQLite")
    args = parser.parse_args()
    summary: dict[str, object] = {}
    summary |= frame_speed(args.seconds)
    print(json.dumps({"frames": summary}))
    lookup, hashes = lookup_speed(args.hashes, args.queries)
    print(json.dumps({"lookup": lookup}))
    summary |= lookup
    if args.db:
        summary |= db_load(hashes)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
