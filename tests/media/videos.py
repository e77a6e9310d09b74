"""Real encoded test videos made with PyAV: moving textured scenes and their reposted variants."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import av
import cv2
import numpy as np

FPS = 12


def scene(seed: int, seconds: float = 4.0, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """RGB frames of a camera panning over a random textured world with a moving ball."""
    rng = np.random.default_rng(seed)
    w, h = size
    world_w, world_h = w * 3, h * 2
    noise = rng.integers(0, 256, (world_h // 8, world_w // 8, 3), dtype=np.uint8)
    world = cv2.resize(noise, (world_w, world_h), interpolation=cv2.INTER_CUBIC)
    for _ in range(60):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, world_w)), int(rng.integers(0, world_h))
        if rng.random() < 0.5:
            cv2.rectangle(world, (x, y), (x + int(rng.integers(10, 60)), y + int(rng.integers(10, 60))), color, -1)
        else:
            cv2.circle(world, (x, y), int(rng.integers(5, 30)), color, -1)
    n = int(seconds * FPS)
    vx = float(rng.uniform(1.5, 3.0)) * (1 if seed % 2 else -1)
    vy = float(rng.uniform(-1.0, 1.0))
    frames = []
    for i in range(n):
        x0 = int(np.clip(w + vx * i * 2, 0, world_w - w))
        y0 = int(np.clip(h // 2 + vy * i * 2, 0, world_h - h))
        frame = world[y0:y0 + h, x0:x0 + w].copy()
        bx = int(w / 2 + w / 3 * np.sin(i / 7 + seed))
        by = int(h / 2 + h / 3 * np.cos(i / 5 + seed))
        cv2.circle(frame, (bx, by), 18, (255, 255, 255), -1)
        cv2.circle(frame, (bx, by), 8, (200, 30, 30), -1)
        frames.append(frame)
    return frames


def encode(frames: list[np.ndarray], fps: int = FPS, codec: str = "libx264", container: str = "mp4") -> bytes:
    """Encode RGB frames as a video file in memory."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        h, w = frames[0].shape[:2]
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def decode(data: bytes) -> Iterator[np.ndarray]:
    """RGB frames of an encoded video."""
    with av.open(io.BytesIO(data)) as c:
        for frame in c.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def reencode(data: bytes, change: Callable[[list[np.ndarray]], list[np.ndarray]]) -> bytes:
    """Decode, change the frames, encode again (every repost is a re-encode)."""
    return encode(change(list(decode(data))))


def half_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame at half width and height."""
    return [cv2.resize(f, (f.shape[1] // 2 // 2 * 2, f.shape[0] // 2 // 2 * 2), interpolation=cv2.INTER_AREA)
            for f in frames]


def boxed_under_caption(frames: list[np.ndarray], caption: str = "SMOTRITE CHTO TVORITSA") -> list[np.ndarray]:
    """Each frame scaled to 85 % inside a black frame, under a white caption bar with black text."""
    out = []
    for f in frames:
        h, w = f.shape[:2]
        canvas = np.zeros((h, w, 3), np.uint8)
        bar = h // 8
        cv2.rectangle(canvas, (0, 0), (w, bar), (255, 255, 255), -1)
        cv2.putText(canvas, caption, (6, bar - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        sw, sh = int(w * 0.85) // 2 * 2, int(h * 0.85) // 2 * 2
        small = cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA)
        top = bar + (h - bar - sh) // 2
        left = (w - sw) // 2
        canvas[top:top + sh, left:left + sw] = small
        out.append(canvas)
    return out


def starting_later(seconds: float) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """Drop the first `seconds` of the video."""
    return lambda frames: frames[int(seconds * FPS):]
