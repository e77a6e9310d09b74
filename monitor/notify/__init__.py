"""Telling people: the daily digest, immediate alerts and mail."""
