"""Builds the real pipeline parts from settings: the one place that knows which classes to use."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import Settings
from monitor.ingest.pipeline import Pipeline


def build_pipeline(settings: Settings, sessions: sessionmaker[Session], *, classify: bool = True) -> Pipeline:
    """The pipeline with the gazetteer and (unless classify=False) the transformer classifier."""
    from models import load_classifier
    from monitor.core.places.gazetteer import Gazetteer

    places = Gazetteer.load(settings.places)
    if not classify:
        return Pipeline(sessions, settings, places=places)
    classifier = load_classifier(settings.classifier)
    return Pipeline(sessions, settings, classifier=classifier, places=places, embed=classifier.embed)
