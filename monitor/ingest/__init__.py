"""Collecting posts: HTTP, the scrapers' run loop, the pipeline and its stages, incidents."""
