"""The app's routes, one module per page (plus the JSON API and the system endpoints)."""
