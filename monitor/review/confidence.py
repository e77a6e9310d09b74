"""Confidence bands: a calibrated probability as the words a moderator reads instead of a raw "1.00"."""

from __future__ import annotations

import math

# Lower bounds, highest first. The scores are calibrated on held-out data (models/MODEL_CARD.md, "Calibration"),
# so "likely" means roughly 8 in 10 such posts are real incidents; two decimals of a probability promise more
# precision than the model has.
BANDS: tuple[tuple[float, str], ...] = (
    (0.95, "very likely"),
    (0.80, "likely"),
    (0.50, "possible"),
    (0.20, "unlikely"),
    (0.0, "very unlikely"),
)


def confidence_band(probability: float | None) -> str:
    """The band label of a calibrated probability ('—' when there is none)."""
    if probability is None or math.isnan(probability):
        return "—"
    for low, label in BANDS:
        if probability >= low:
            return label
    return BANDS[-1][1]
