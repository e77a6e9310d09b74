"""The exception tree: one root, a few meaningful children."""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error the service raises on purpose; its message is shown to the user as is."""

    exit_code = 1


class ConfigError(MonitorError):
    """The configuration file or environment is wrong (names the file and the key)."""

    exit_code = 2


class DatabaseError(MonitorError):
    """The database is unreachable or not migrated."""

    exit_code = 2


class InputError(MonitorError):
    """A record or file given by a user is malformed."""


class QueueError(MonitorError):
    """A review-queue operation was refused (claimed by someone else, already decided, wrong role)."""


class NotFound(MonitorError):
    """The thing asked for does not exist."""


class ScrapeError(MonitorError):
    """A source could not be scraped; carries the source name and the URL."""

    def __init__(self, message: str, *, source: str | None = None, url: str | None = None) -> None:
        self.source = source
        self.url = url
        where = " ".join(p for p in (f"source {source}" if source else "", url or "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class DeliveryError(MonitorError):
    """A digest, alert or webhook could not be delivered (the job records it and retries later)."""


class ClassifierError(MonitorError):
    """The classifier model is missing, corrupt or failed."""
