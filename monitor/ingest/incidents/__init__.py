"""Grouping posts into incidents: matching evidence and storing the groups."""
