"""Do two media show the same picture or video? Hash sets first (vPDQ-style), then a geometric check.

vPDQ compares videos as sets of frame hashes: the share of one video's keyframes that have a frame of
the other within the PDQ distance. Cut, re-encoded, resized and re-timed reposts keep a high share; the
content box hashes (monitor.ingest.media.hashing) cover reposts boxed under a caption bar. A hash match is then
confirmed by ORB keypoints matched between the best frame pairs with a RANSAC homography: unrelated
pictures whose hashes happen to be near do not share dozens of keypoints in one geometric arrangement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from monitor.ingest.media.index import distances


@dataclass(frozen=True, slots=True)
class FrameHashes:
    """The hashes of one keyframe (whole frame, content box) with its quality and stored JPEG."""

    idx: int
    hashes: tuple[bytes, ...]
    quality: int
    jpeg_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    """How much of two media's keyframes match, and the best frame pairs (index in a, index in b, distance)."""

    share: float
    matched_frames: int
    pairs: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class MatchVerdict:
    """The outcome for one pair of media."""

    is_match: bool
    share: float
    matched_frames: int
    inliers: int
    reason: str


def _usable(frames: Sequence[FrameHashes], min_quality: int) -> list[FrameHashes]:
    # Black or flat frames (fades, title cards) have low PDQ quality and would match each other.
    return [f for f in frames if f.quality >= min_quality]


def compare(a: Sequence[FrameHashes], b: Sequence[FrameHashes], *, distance: int, min_quality: int) -> Comparison:
    """Share of keyframes of either media with a frame of the other within `distance` (the larger share)."""
    fa, fb = _usable(a, min_quality), _usable(b, min_quality)
    if not fa or not fb:
        return Comparison(0.0, 0, ())
    rows_b = [(j, h) for j, f in enumerate(fb) for h in f.hashes]
    matrix = np.frombuffer(b"".join(h for _, h in rows_b), dtype=np.uint8).reshape(-1, 32)
    owner = np.array([j for j, _ in rows_b])
    dist = np.full((len(fa), len(fb)), 256, dtype=np.int64)
    for i, f in enumerate(fa):
        for h in f.hashes:
            d = distances(h, matrix)
            np.minimum.at(dist[i], owner, d)
    hit = dist <= distance
    share = max(float(hit.any(axis=1).mean()), float(hit.any(axis=0).mean()))
    best_j = dist.argmin(axis=1)
    pairs = sorted(((fa[i].idx, fb[int(best_j[i])].idx, int(dist[i, best_j[i]]))
                    for i in range(len(fa)) if hit[i, best_j[i]]), key=lambda p: p[2])
    return Comparison(share, int(hit.any(axis=1).sum()), tuple(pairs))


_ORB = cv2.ORB.create(nfeatures=800)


def _grey(jpeg: bytes) -> np.ndarray | None:
    arr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return arr if arr is not None and arr.size else None


def geometric_inliers(jpeg_a: bytes, jpeg_b: bytes) -> int:
    """Keypoints of two frames consistent with one homography (ORB, ratio test, RANSAC); 0 when none."""
    try:
        return _inliers(jpeg_a, jpeg_b)
    except cv2.error:  # a damaged keyframe must not stop the job: it just confirms nothing
        return 0


def _inliers(jpeg_a: bytes, jpeg_b: bytes) -> int:
    ga, gb = _grey(jpeg_a), _grey(jpeg_b)
    if ga is None or gb is None:
        return 0
    ka, da = _ORB.detectAndCompute(ga, None)
    kb, db = _ORB.detectAndCompute(gb, None)
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return 0
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = [m for m, n in (p for p in matcher.knnMatch(da, db, k=2) if len(p) == 2) if m.distance < 0.75 * n.distance]
    if len(good) < 8:
        return 0
    src = np.array([ka[m.queryIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    dst = np.array([kb[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    if homography is None or mask is None:
        return 0
    # A degenerate fit (everything squashed to a line or flipped) is not the same picture.
    det = float(np.linalg.det(homography[:2, :2]))
    if not 0.05 < abs(det) < 20 or det < 0:
        return 0
    return int(mask.sum())


def judge(
    a: Sequence[FrameHashes],
    b: Sequence[FrameHashes],
    load_jpeg: Callable[[str], bytes | None],
    *,
    distance: int,
    min_quality: int,
    min_share: float,
    min_inliers: int,
    kind: str = "video",
    tries: int = 3,
) -> MatchVerdict:
    """Whether a and b are the same media: enough matching keyframes, confirmed geometrically on the best pairs."""
    comparison = compare(a, b, distance=distance, min_quality=min_quality)
    needed = min(2, len(_usable(a, min_quality)), len(_usable(b, min_quality)))
    if comparison.share < min_share or comparison.matched_frames < max(needed, 1):
        return MatchVerdict(False, comparison.share, comparison.matched_frames, 0, "hashes differ")
    jpegs_a = {f.idx: f.jpeg_sha256 for f in a}
    jpegs_b = {f.idx: f.jpeg_sha256 for f in b}
    best = 0
    for ia, ib, _ in comparison.pairs[:tries]:
        sa, sb = jpegs_a.get(ia), jpegs_b.get(ib)
        ja, jb = (load_jpeg(sa) if sa else None), (load_jpeg(sb) if sb else None)
        if ja is None or jb is None:
            continue
        best = max(best, geometric_inliers(ja, jb))
        if best >= min_inliers:
            break
    percent = round(comparison.share * 100)
    what = "same video" if kind == "video" else "same photo"
    if best < min_inliers:
        return MatchVerdict(False, comparison.share, comparison.matched_frames, best,
                            f"{what} by hashes ({percent}% of frames) but not confirmed geometrically")
    reason = f"{what}, {percent}% of frames" if kind == "video" else what
    return MatchVerdict(True, comparison.share, comparison.matched_frames, best, reason)
