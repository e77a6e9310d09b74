"""The review web app: create_app(settings) returns the FastAPI app that `monitor web` and `monitor run` serve."""

from monitor.web.app import create_app

__all__ = ["create_app"]
