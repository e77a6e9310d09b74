"""Fault-suite fixtures: the real in-process SMTP server from the service tests."""

from tests.service.conftest import smtp_server

__all__ = ["smtp_server"]
