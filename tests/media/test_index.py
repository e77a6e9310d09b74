"""Multi-index hashing finds exactly what a brute-force scan finds, within radius 31."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.ingest.media.hashing import hamming
from monitor.ingest.media.index import HashIndex, distances


def _flip(h: np.ndarray, bits: int, rng: np.random.Generator) -> bytes:
    unpacked = np.unpackbits(h)
    unpacked[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked).tobytes()


@pytest.mark.parametrize("radius", [10, 31])
def test_same_results_as_brute_force(radius: int) -> None:
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    index = HashIndex.build(stored, range(len(stored)))
    for _ in range(60):
        row = int(rng.integers(len(stored)))
        query = _flip(stored[row], int(rng.integers(0, radius + 6)), rng)
        brute = {int(i) for i in np.flatnonzero(distances(query, stored) <= radius)}
        found = index.near(query, radius)
        assert {k for k, _ in found} == brute
        assert all(d == hamming(query, stored[k].tobytes()) for k, d in found)


def test_added_hashes_are_found_and_radius_limit() -> None:
    rng = np.random.default_rng(3)
    index = HashIndex()
    base = rng.integers(0, 256, 32, dtype=np.uint8)
    index.add(base.tobytes(), 42)
    index.add(rng.integers(0, 256, 32, dtype=np.uint8).tobytes(), 43)
    assert [k for k, _ in index.near(_flip(base, 31, rng))] == [42]
    assert index.near(_flip(base, 40, rng)) == []
    with pytest.raises(ValueError):
        index.near(base.tobytes(), 40)
