"""Near-neighbour lookup of 256-bit PDQ hashes: multi-index hashing over sixteen 16-bit chunks.

Two hashes within Hamming distance r differ in at most floor(r / 16) bits of at least one of the 16
chunks (pigeonhole), so for r <= 31 a lookup probes, per chunk, the query's chunk value and its 16
one-bit neighbours in a sorted array, then checks the full distance of the few rows found. Built in
memory from the media_frame table (hash, key and 16 sorted chunk arrays: about 136 MB for a million).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.ingest.media.hashing import HASH_BYTES

CHUNKS = 16
_FLIPS = np.array([0] + [1 << b for b in range(16)], dtype=np.uint16)


def _as_matrix(hashes: Sequence[bytes] | np.ndarray) -> np.ndarray:
    if isinstance(hashes, np.ndarray):
        arr = np.ascontiguousarray(hashes, dtype=np.uint8)
    else:
        arr = np.frombuffer(b"".join(hashes), dtype=np.uint8) if hashes else np.zeros(0, np.uint8)
    return arr.reshape(-1, HASH_BYTES)


def distances(query: bytes, matrix: np.ndarray) -> np.ndarray:
    """Hamming distances from one hash to each row of an (n, 32) uint8 matrix."""
    q = np.frombuffer(query, dtype=np.uint64)
    return np.bitwise_count(matrix.view(np.uint64) ^ q).sum(axis=1)  # type: ignore[no-any-return]


@dataclass
class HashIndex:
    """Hashes with an integer key each (a media item id); `near(hash, r)` finds keys within distance r."""

    max_radius: int = 31
    _hashes: np.ndarray = field(default_factory=lambda: np.zeros((0, HASH_BYTES), np.uint8))
    _keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _sorted: list[np.ndarray] = field(default_factory=list)  # per chunk: chunk values, ascending
    _order: list[np.ndarray] = field(default_factory=list)  # per chunk: row numbers in that order
    _pending: list[tuple[bytes, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self._keys.size) + len(self._pending)

    @classmethod
    def build(cls, hashes: Sequence[bytes] | np.ndarray, keys: Iterable[int], max_radius: int = 31) -> HashIndex:
        """An index over the given hashes (each 32 bytes) and their keys."""
        index = cls(max_radius=max_radius)
        index._hashes = _as_matrix(hashes)
        index._keys = np.fromiter(keys, dtype=np.int64)
        if index._keys.size != index._hashes.shape[0]:
            raise ValueError("one key per hash")
        index._reindex()
        return index

    def _reindex(self) -> None:
        # (n, 16) 16-bit chunks, native byte order: searchsorted on a big-endian array would convert it
        # whole on every call.
        chunks = self._hashes.view(">u2").astype(np.uint16)
        self._order = [np.argsort(chunks[:, c], kind="stable").astype(np.int32) for c in range(CHUNKS)]
        self._sorted = [np.ascontiguousarray(chunks[:, c][o]) for c, o in zip(range(CHUNKS), self._order, strict=True)]

    def add(self, hash_: bytes, key: int) -> None:
        """Add one hash (searched at once; merged into the sorted arrays on the next lookup)."""
        if len(hash_) != HASH_BYTES:
            raise ValueError("a PDQ hash is 32 bytes")
        self._pending.append((hash_, key))

    def _merge(self) -> None:
        if not self._pending:
            return
        self._hashes = np.concatenate([self._hashes, _as_matrix([h for h, _ in self._pending])])
        self._keys = np.concatenate([self._keys, np.array([k for _, k in self._pending], np.int64)])
        self._pending.clear()
        self._reindex()

    def near(self, query: bytes, radius: int | None = None) -> list[tuple[int, int]]:
        """(key, distance) of every stored hash within `radius` of the query, nearest first."""
        radius = self.max_radius if radius is None else radius
        if radius > 2 * CHUNKS - 1:
            raise ValueError(f"radius {radius} is beyond what 16-bit multi-index hashing finds (31)")
        self._merge()
        if self._keys.size == 0:
            return []
        q = np.frombuffer(query, dtype=">u2").astype(np.uint16)
        flips = _FLIPS if radius >= CHUNKS else _FLIPS[:1]
        rows: list[np.ndarray] = []
        for c in range(CHUNKS):
            values = (q[c] ^ flips).astype(np.uint16)
            lo = np.searchsorted(self._sorted[c], values, side="left")
            hi = np.searchsorted(self._sorted[c], values, side="right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                if b > a:
                    rows.append(self._order[c][a:b])
        if not rows:
            return []
        found = np.unique(np.concatenate(rows))
        dist = distances(query, self._hashes[found])
        keep = dist <= radius
        hits = sorted(zip(dist[keep].tolist(), self._keys[found[keep]].tolist(), strict=True))
        return [(int(k), int(d)) for d, k in hits]
