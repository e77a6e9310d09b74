"""Full-text search over post text: one expression compiled per database (revision 0013_post_search).

PostgreSQL: `to_tsvector('russian', text) @@ plainto_tsquery('russian', q)` (Russian stemming: "избили"
finds "избить"). SQLite: FTS5 over the same text, each word a prefix ("избил" finds "избили")."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

_WORD = re.compile(r"\w+", re.UNICODE)


def fts5_query(text: str) -> str:
    """A safe FTS5 query: every word quoted (no operators from user input) and matched as a prefix."""
    return " ".join(f'"{word}"*' for word in _WORD.findall(text))


class PostTextMatches(ColumnElement[bool]):
    """True for a post (table `post`) whose text matches the words of a search."""

    type = sa.Boolean()
    # The query is read at compile time: statements holding it are not cached.
    inherit_cache = False

    def __init__(self, query: str) -> None:
        self.query = query


@compiles(PostTextMatches, "postgresql")
def _postgresql(element: PostTextMatches, compiler: Any, **kw: Any) -> str:
    query = compiler.process(sa.bindparam("search_q", element.query, type_=sa.String()), **kw)
    return f"to_tsvector('russian', post.text) @@ plainto_tsquery('russian', {query})"


@compiles(PostTextMatches, "sqlite")
def _sqlite(element: PostTextMatches, compiler: Any, **kw: Any) -> str:
    query = compiler.process(sa.bindparam("search_q", fts5_query(element.query), type_=sa.String()), **kw)
    return f"post.id IN (SELECT rowid FROM post_fts WHERE post_fts MATCH {query})"


def has_words(text: str | None) -> bool:
    """Whether a search string has anything to search for."""
    return bool(text and _WORD.search(text))
