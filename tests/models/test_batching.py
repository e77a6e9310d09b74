"""The encoder's batches: every window once, shortest first, at most batch_size, padding capped (no encoder)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from models.encoder import MIN_CUT_BATCH, length_batches


def _padding(lengths: list[int], batch: list[int]) -> float:
    slots = len(batch) * max(lengths[k] for k in batch)
    return 1 - sum(lengths[k] for k in batch) / slots


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=3, max_value=514), max_size=300), st.integers(min_value=1, max_value=64))
def test_every_window_once_sorted_and_bounded(lengths: list[int], size: int) -> None:
    batches = length_batches(lengths, size, 0.25)
    flat = [k for b in batches for k in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[k] for k in flat] == sorted(lengths)
    assert all(1 <= len(b) <= size for b in batches)
    for b in batches:
        # A batch that was allowed to grow past the minimum never holds more than the cap of padding.
        if len(b) > MIN_CUT_BATCH:
            assert _padding(lengths, b) <= 0.25 + 1e-9


def test_spread_lengths_pad_less_than_fixed_batches() -> None:
    rng = random.Random(0)
    # Like dev: mostly short posts and a long tail (fixed batches of 64 there were 43% padding).
    lengths = [int(rng.lognormvariate(3.4, 0.6)) + 3 for _ in range(256)]
    fixed = length_batches(lengths, 64, 1.0)
    capped = length_batches(lengths, 64, 0.25)
    assert [len(b) for b in fixed] == [64, 64, 64, 64]

    def share(batches: list[list[int]]) -> float:
        slots = sum(len(b) * max(lengths[k] for k in b) for b in batches)
        return 1 - sum(lengths) / slots

    assert share(fixed) > 0.3
    assert share(capped) <= 0.25
    # Uniform posts (the benchmark's 64-token ones) keep full batches.
    assert [len(b) for b in length_batches([66] * 128, 64, 0.25)] == [64, 64]
