"""Confidence bands: a calibrated probability as the words a moderator reads instead of a raw "1.00".

The one place a score becomes a band: the web (queue, item page, CSV export), the digest and anything else showing a
score use `confidence_band`, and `monitor.core.i18n` translates the band ("band" labels).
"""

from __future__ import annotations

import math

# Lower bounds, highest first. The scores are calibrated on held-out data (models/MODEL_CARD.md, "Calibration"),
# so "likely" means roughly 8 in 10 such posts are real incidents; two decimals of a probability promise more
# precision than the model has.
BANDS: tuple[tuple[float, str], ...] = (
    (0.95, "very_likely"),
    (0.80, "likely"),
    (0.50, "possible"),
    (0.20, "unlikely"),
    (0.0, "very_unlikely"),
)
BAND_NAMES: tuple[str, ...] = tuple(name for _, name in BANDS)


def confidence_band(probability: float | None) -> str | None:
    """The band of a calibrated probability ('very_likely' … 'very_unlikely'); None when there is none."""
    if probability is None or math.isnan(probability):
        return None
    for low, name in BANDS:
        if probability >= low:
            return name
    return BANDS[-1][1]
