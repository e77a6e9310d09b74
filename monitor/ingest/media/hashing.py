"""Perceptual hashes: PDQ of images, and of video keyframes decoded with PyAV (interval + scene changes, capped).

Every frame gets two hashes: the whole frame, and its content box when that is clearly smaller. For a
video the box is where the picture moves (a repost boxed inside a black frame under a static caption bar
keeps its own motion; the bar and the frame do not move); for a photo it is the frame without uniform
borders. Reposts are matched on either (monitor.ingest.media.match).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import av
import cv2
import numpy as np
import pdqhash

from monitor.core.config import MediaSettings
from monitor.core.errors import MonitorError

HASH_BYTES = 32
PDQ_SIDE = 256  # PDQ reduces to 64x64 internally; hashing a 256-pixel copy is as good and much faster
STRIP_SIDE = 360  # keyframe JPEGs kept for the strip on the item page and the geometric check
_BOX_SIDE = 160
_SCENE_DIFF = 28.0  # mean absolute difference (0-255) of 32x32 grey frames that counts as a cut


class MediaDecodeError(MonitorError):
    """The bytes are not a decodable image or video."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One hashed frame: time, PDQ of the whole frame and of its content box, PDQ quality, a small JPEG."""

    idx: int
    t_s: float
    pdq: bytes
    pdq_crop: bytes | None
    quality: int
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class Hashed:
    """What hashing one file found."""

    kind: str  # image | video
    width: int
    height: int
    duration_s: float | None
    frames: tuple[Frame, ...]


Box = tuple[int, int, int, int]  # top, bottom, left, right (exclusive), in pixels of the frame


def _fit(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def pdq(rgb: np.ndarray) -> tuple[bytes, int]:
    """PDQ hash (32 bytes, big-endian bit order) and quality (0-100) of an RGB uint8 image."""
    small = np.ascontiguousarray(_fit(rgb, PDQ_SIDE))
    bits, quality = pdqhash.compute(small)
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two hashes."""
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def jpeg(rgb: np.ndarray, side: int = STRIP_SIDE, quality: int = 80) -> bytes:
    """A small JPEG of an RGB image (longest side at most `side`)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(_fit(rgb, side), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaDecodeError("could not encode a JPEG")
    return bytes(buf)


def decode_image(data: bytes) -> np.ndarray:
    """RGB pixels of an image file (JPEG, PNG, WebP, GIF's first frame ...)."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise MediaDecodeError("not a decodable image")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def _span(active: np.ndarray, n: int) -> tuple[int, int]:
    idx = np.flatnonzero(active)
    if idx.size == 0:
        return 0, n
    return int(idx[0]), int(idx[-1]) + 1


def _scaled_box(box: Box, small: tuple[int, int], full: tuple[int, int]) -> Box | None:
    """A box found on a small copy, in full-size pixels; None when it is (nearly) the whole frame or tiny."""
    (sh, sw), (fh, fw) = small, full
    top, bottom, left, right = box
    area = (bottom - top) * (right - left) / (sh * sw)
    if area > 0.9 or area < 0.1 or bottom - top < 8 or right - left < 8:
        return None
    return (math.floor(top * fh / sh), math.ceil(bottom * fh / sh), math.floor(left * fw / sw),
            math.ceil(right * fw / sw))


def trim_box(rgb: np.ndarray) -> Box | None:
    """The image without uniform borders (letterbox bars, a plain frame); None when there are none."""
    grey = cv2.cvtColor(_fit(rgb, _BOX_SIDE), cv2.COLOR_RGB2GRAY).astype(np.float32)
    rows = grey.std(axis=1) > 6.0
    cols = grey.std(axis=0) > 6.0
    top, bottom = _span(rows, grey.shape[0])
    left, right = _span(cols, grey.shape[1])
    return _scaled_box((top, bottom, left, right), grey.shape[:2], rgb.shape[:2])


def motion_box(greys: list[np.ndarray], full: tuple[int, int]) -> Box | None:
    """Where a video's picture moves across its keyframes; None when it moves everywhere (or barely at all)."""
    if len(greys) < 3:
        return None
    stack = np.stack(greys).astype(np.float32)
    moving = stack.std(axis=0) > 8.0
    rows = moving.mean(axis=1) > 0.25
    cols = moving.mean(axis=0) > 0.25
    if rows.sum() < 4 or cols.sum() < 4:
        return None
    top, bottom = _span(rows, moving.shape[0])
    left, right = _span(cols, moving.shape[1])
    return _scaled_box((top, bottom, left, right), moving.shape, full)


def _crop(rgb: np.ndarray, box: Box | None) -> np.ndarray | None:
    if box is None:
        return None
    top, bottom, left, right = box
    return rgb[top:bottom, left:right]


def hash_image(data: bytes) -> Hashed:
    """PDQ of a photo (whole and without borders) and its JPEG preview."""
    rgb = decode_image(data)
    full, quality = pdq(rgb)
    cropped = _crop(rgb, trim_box(rgb))
    crop_hash = pdq(cropped)[0] if cropped is not None else None
    h, w = rgb.shape[:2]
    return Hashed("image", w, h, None, (Frame(0, 0.0, full, crop_hash, quality, jpeg(rgb)),))


def _sample_video(data: bytes, settings: MediaSettings) -> tuple[list[tuple[float, np.ndarray]], int, int, float]:
    """Keyframes (time from the start, RGB at most 640 px) every frame_interval_s and at cuts, capped."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError) as e:
        raise MediaDecodeError(f"not a decodable video: {e}") from e
    out: list[tuple[float, np.ndarray]] = []
    try:
        if not container.streams.video:
            raise MediaDecodeError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, 640 / max(width, height, 1))
        size = (max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2)
        t0: float | None = None
        next_t = 0.0
        last_small: np.ndarray | None = None
        last_t = -1.0
        t = 0.0
        for frame in container.decode(stream):
            t_abs = frame.time if frame.time is not None else 0.0
            t0 = t_abs if t0 is None else t0
            t = t_abs - t0
            if t > settings.max_decode_s or len(out) >= settings.max_frames:
                break
            small = frame.to_ndarray(width=32, height=32, format="gray").astype(np.float32)
            cut = (last_small is not None and t - last_t >= 0.2
                   and float(np.abs(small - last_small).mean()) > _SCENE_DIFF)
            if t + 1e-6 >= next_t or cut:
                out.append((t, frame.to_ndarray(width=size[0], height=size[1], format="rgb24")))
                last_small, last_t = small, t
                next_t = (math.floor(t / settings.frame_interval_s + 1e-6) + 1) * settings.frame_interval_s
        duration = t
    except av.FFmpegError as e:
        if not out:
            raise MediaDecodeError(f"video could not be decoded: {e}") from e
        duration = out[-1][0]  # a truncated file (size cap, deleted mid-download): keep what decoded
    finally:
        container.close()
    if not out:
        raise MediaDecodeError("the video has no decodable frames")
    return out, width, height, duration


def hash_video(data: bytes, settings: MediaSettings) -> Hashed:
    """PDQ of a video's keyframes (whole frame and where the picture moves) with their JPEGs."""
    sampled, width, height, duration = _sample_video(data, settings)
    greys = [cv2.cvtColor(_fit(rgb, _BOX_SIDE), cv2.COLOR_RGB2GRAY) for _, rgb in sampled]
    box = motion_box(greys, sampled[0][1].shape[:2])
    frames = []
    for i, (t, rgb) in enumerate(sampled):
        full, quality = pdq(rgb)
        cropped = _crop(rgb, box)
        crop_hash = pdq(cropped)[0] if cropped is not None else None
        frames.append(Frame(i, round(t, 3), full, crop_hash, quality, jpeg(rgb)))
    return Hashed("video", width, height, round(duration, 3), tuple(frames))


def sniff_kind(data: bytes, content_type: str) -> str:
    """'image' or 'video' from the content type, else from the file's magic bytes."""
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct.startswith("image/"):
        return "image"
    if ct.startswith("video/"):
        return "video"
    head = data[:16]
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return "video"


def hash_media(data: bytes, content_type: str, settings: MediaSettings) -> Hashed:
    """Hash a fetched file as an image or a video."""
    if sniff_kind(data, content_type) == "image":
        return hash_image(data)
    return hash_video(data, settings)
