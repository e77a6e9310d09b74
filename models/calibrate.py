"""Real-text calibration (issue 14): the positives-only category head, out-of-fold scores on the real training
texts, and the Platt scaling and per-category thresholds chosen on them.

The synthetic dev split shares the generator's style, so heads calibrated there were over-confident on real posts.
The real training texts (`models/data/real_train.jsonl`) are scored out of fold: each fold by a head fitted without
it (the other folds and the synthetic data), so the calibration and thresholds see scores of texts the head has not
learnt, the way it will see the world. The real held-out set is never used here: it only judges.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from models.head import THRESHOLD_GRID, Head, fit_logistic, fit_platt, platt_scaled
from monitor.core.classification import primary_category
from monitor.core.vocab import CATEGORIES

FOLDS = 5
# How many times a real text is repeated in the fitting data (the synthetic set is ~30x larger).
REAL_REPEAT = 5
CATEGORY_L2 = 1e-2


def fold_of(group: str, folds: int = FOLDS) -> int:
    """A stable fold for a group key (the source page: texts of one page stay in one fold)."""
    return zlib.crc32(group.encode("utf-8")) % folds


def fit_category_head(z: np.ndarray, y: np.ndarray, flags: np.ndarray,
                      l2: float = CATEGORY_L2) -> tuple[np.ndarray, np.ndarray]:
    """Linear multi-label category logits on standardized features, fitted on the positive rows only.

    A category is a question about an incident ("was the teacher the one who did it?"), so negatives, which have
    no category, only teach "no category" and pull every category down on new wording."""
    rows = flags > 0
    return fit_logistic(z[rows], y[rows], l2)


def with_category_head(head: Head, x: np.ndarray, y: np.ndarray) -> Head:
    """`head` with a positives-only category head fitted on (x, y) (y: flag then categories)."""
    z = (x - head.mean) / head.std
    w, b = fit_category_head(z, y[:, 1:], y[:, 0])
    return replace(head, category_weight=w, category_bias=b)


def primary_accuracy(probs: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> float:
    """Share of rows whose most-specific category at `thresholds` is the gold primary one (rows with a category)."""
    limits = dict(zip(CATEGORIES, thresholds.tolist(), strict=True))
    n = correct = 0
    for p, t in zip(probs, y, strict=True):
        gold = primary_category({c: 1.0 for c, v in zip(CATEGORIES, t, strict=True) if v > 0})
        if gold is None:
            continue
        n += 1
        correct += primary_category(dict(zip(CATEGORIES, p.tolist(), strict=True)), limits) == gold
    return correct / n if n else 0.0


def choose_primary_thresholds(probs: np.ndarray, y: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-category thresholds that maximise the primary category's accuracy on the positive rows.

    Coordinate ascent over THRESHOLD_GRID from 0.5 each; a tie keeps the threshold nearer 0.5, so a category the
    data says nothing about stays at 0.5."""
    rows = y.sum(axis=1) > 0
    p, t = probs[rows], y[rows]
    out = np.full(len(CATEGORIES), 0.5)
    for _ in range(rounds):
        changed = False
        for k in range(len(CATEGORIES)):
            best = (primary_accuracy(p, t, out), -abs(out[k] - 0.5), out[k])
            for th in THRESHOLD_GRID:
                trial = out.copy()
                trial[k] = th
                key = (primary_accuracy(p, t, trial), -abs(th - 0.5), th)
                if key[:2] > best[:2]:
                    best = key
            changed |= best[2] != out[k]
            out[k] = best[2]
        if not changed:
            break
    return out


def out_of_fold_logits(fit_head: Callable[[np.ndarray], Head], x_real: np.ndarray,
                       groups: Sequence[str], folds: int = FOLDS) -> np.ndarray:
    """Raw logits of every real row from a head fitted without its fold; `fit_head(train_mask)` fits one."""
    which = np.array([fold_of(g, folds) for g in groups])
    out = np.zeros((len(x_real), len(CATEGORIES) + 1))
    for f in range(folds):
        held = which == f
        if held.any():
            out[held] = fit_head(~held).logits(x_real[held])
    return out


def calibrate_on(head: Head, logits: np.ndarray, y: np.ndarray) -> Head:
    """Platt scaling from out-of-fold `logits` (flag on every row, categories on the positives) and the
    thresholds that make the queue's category most often right there."""
    platt = fit_platt(logits[:, :1], y[:, :1])
    rows = y[:, 0] > 0
    platt = np.vstack([platt, fit_platt(logits[rows, 1:], y[rows, 1:])])
    probs = platt_scaled(logits, platt)
    thresholds = choose_primary_thresholds(probs[rows, 1:], y[rows, 1:])
    return replace(head, platt=platt, thresholds=thresholds)
