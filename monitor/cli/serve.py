"""Serving: `monitor run` (scheduler + web app, the one service) and `monitor web` (web app only)."""

from __future__ import annotations

import faulthandler
import logging
import signal
from collections.abc import Sequence

import click

from monitor.cli import App, cli, pass_app
from monitor.core.errors import ConfigError

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


def _port_free(host: str, port: int) -> None:
    """ConfigError (one line, exit 2) when another program already listens on host:port."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ConfigError(f"web.port: {host}:{port} is not available ({e.strerror}); "
                              "stop the other program or set [web] port") from None


def _serve(app: App, host: str, port: int, *, with_scheduler: bool) -> None:
    import uvicorn

    _port_free(host, port)

    from monitor.service.parts import build_pipeline
    from monitor.web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A fatal signal (SIGBUS when SQLite's shared-memory file becomes unwritable, SIGSEGV) still leaves a
    # line and the threads' stacks on stderr, which the supervisor's journal keeps, before the process dies.
    faulthandler.enable(all_threads=True)
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
    proxy_headers, allow_ips = proxy_options(settings.web.trusted_proxies)
    server = _quiet_server(uvicorn.Config(web_app, host=host, port=port, log_level="info",
                                          proxy_headers=proxy_headers, forwarded_allow_ips=allow_ips))
    try:
        server.run()  # type: ignore[attr-defined]
    except Exception as e:
        log.critical("monitor stopped: %s: %s", type(e).__name__, str(e).strip().splitlines()[0][:300] if str(e) else "")
        raise
    finally:
        if scheduler is not None:
            log.info("waiting for running jobs to finish")
            scheduler.shutdown(wait=True)
            log.info("stopped")


def proxy_options(trusted: Sequence[str]) -> tuple[bool, str]:
    """uvicorn's (proxy_headers, forwarded_allow_ips): X-Forwarded-For is believed only from
    `[web] trusted_proxies` (none by default, so the client address is the TCP peer's)."""
    return bool(trusted), ",".join(trusted) or "127.0.0.1"


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
