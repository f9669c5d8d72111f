"""The children register: one record per child, kept current from the `_changes` feed.

The due lists and the children list Collect downloads read a township's children from
here with one indexed query, instead of scanning CouchDB or loading the whole analytics
frame. Records are derived with the analytics' own functions (`analytics.flatten`,
`analytics.records.prepare_records`, `analytics.children.children_table`,
`analytics.records.explode_doses`), so a list from the register equals one computed from
the coverage records. Names live in their own table, read by `read.child_names` only.

- `facts`: per-submission facts from a page of feed rows (pure);
- `records`: a child's record from all their facts (pure);
- `projection`: the SQLite tables and how a page of changes updates them;
- `read`: a township's children and their work at a date, villages, names.
"""

from __future__ import annotations

import sqlite3

from analytics.register.projection import CONTENT_TABLES, NAME, RegisterProjection
from analytics.register.read import child_names, due_work, stamps, villages

__all__ = [
    "CONTENT_TABLES",
    "NAME",
    "RegisterProjection",
    "child_names",
    "due_work",
    "generation",
    "is_complete",
    "mark_complete",
    "stamps",
    "villages",
]


def generation(conn: sqlite3.Connection) -> str | None:
    """The generation of the register's tables (a new one at every rebuild)."""
    row = conn.execute("SELECT value FROM register_meta WHERE key = 'generation'").fetchone()
    return None if row is None else row[0]


def is_complete(conn: sqlite3.Connection) -> bool:
    """Whether the feed has been read to its end once since the tables were made."""
    row = conn.execute("SELECT value FROM register_meta WHERE key = 'complete'").fetchone()
    return row is not None and row[0] == "1"


def mark_complete(conn: sqlite3.Connection, generation_seen: str | None) -> None:
    """Record that a refresh reached the end of the feed, if the tables are still the
    generation seen before that refresh (a rebuild in between leaves them partial)."""
    conn.execute(
        "UPDATE register_meta SET value = '1' WHERE key = 'complete' "
        "AND (SELECT value FROM register_meta WHERE key = 'generation') = ?",
        (generation_seen,),
    )
