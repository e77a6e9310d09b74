"""Serving: `monitor run` (scheduler + web app, the one service) and `monitor web` (web app only)."""

from __future__ import annotations

import logging
import signal

import click

from monitor.cli import App, cli, pass_app

log = logging.getLogger("monitor")


def _quiet_server(config: object) -> object:
    """A uvicorn server that stops on SIGTERM/SIGINT without re-raising the signal afterwards.

    uvicorn re-raises a caught signal once it has shut down, which would kill the process before
    the scheduler's jobs in flight finish; we exit normally instead.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

    return Server(config)  # type: ignore[arg-type]


def _serve(app: App, host: str, port: int, *, with_scheduler: bool) -> None:
    import uvicorn

    from monitor.service.parts import build_pipeline
    from monitor.web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = app.settings
    sessions = app.sessions()
    # `monitor web` alone stores API posts unclassified (a worker scores them): it never loads the model.
    pipeline = build_pipeline(settings, sessions, classify=with_scheduler)
    web_app = create_app(settings, sessions, pipeline=pipeline)
    scheduler = None
    if with_scheduler and settings.scheduler.enabled:
        from monitor.service.scheduler import build_scheduler

        scheduler = build_scheduler(settings, sessions, pipeline)
        scheduler.start()
        log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    # On SIGTERM/SIGINT uvicorn stops serving; then we stop the scheduler and wait for the
    # job in flight, whose batch commits or rolls back whole.
    server = _quiet_server(uvicorn.Config(web_app, host=host, port=port, log_level="info", proxy_headers=True))
    try:
        server.run()  # type: ignore[attr-defined]
    finally:
        if scheduler is not None:
            log.info("waiting for running jobs to finish")
            scheduler.shutdown(wait=True)
            log.info("stopped")


@cli.command()
@pass_app
def run(app: App) -> None:
    """Run the service: scheduled scraping, classification, digest and alerts, plus the web app."""
    _serve(app, app.settings.web.host, app.settings.web.port, with_scheduler=True)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default: [web] port).")
@pass_app
def web(app: App, host: str | None, port: int | None) -> None:
    """Run the web app only (no scheduled jobs)."""
    _serve(app, host or app.settings.web.host, port or app.settings.web.port, with_scheduler=False)
