"""The small core every layer stands on: vocabulary, settings, errors, posts, tables, database, audit, places."""
