"""The children register as a `sync.follow.Projection` of the `submissions` database.

Tables (one SQLite file, kept by `sync.follow.FeedState`):

- `facts`: one row per counted submission, keyed by document id (`facts.FACT_COLUMNS`);
- `names`: child and mother names per submission, apart from everything else; only
  `analytics.register.read.child_names` reads it;
- `children`: one record per child (`records.CHILD_COLUMNS`), indexed by township;
- `child_townships`: every township a child was recorded in, with the village there;
- `township_stamps`: per township, a counter that moves whenever one of its children's
  records changes, so prepared lists are reused until then;
- `register_meta`: the generation of these tables (new at every rebuild) and whether the
  feed has been read to its end once (`complete`): before that the register is partial.

A page of changes replaces the facts and names of its documents, then recomputes the
records of every child those documents named before or name now, from all their facts.
So the register after any sequence of changes equals one built from scratch.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analytics.config import AnalyticsConfig, load_config
from analytics.register.facts import FACT_COLUMNS, facts_frame, submission_facts
from analytics.register.records import child_records

NAME = "children-register"
SCHEMA_VERSION = 1
#: Tables whose content is the register (the rest are stamps and bookkeeping).
CONTENT_TABLES = ("facts", "names", "children", "child_townships")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS facts (
        doc_id TEXT PRIMARY KEY, child_id TEXT NOT NULL, form_id TEXT, township TEXT,
        county TEXT, event_ns INTEGER NOT NULL, collected_ns INTEGER NOT NULL, sex TEXT,
        dob_ns INTEGER NOT NULL, doses TEXT, packs REAL, village TEXT, collected TEXT)""",
    "CREATE INDEX IF NOT EXISTS facts_child ON facts (child_id, event_ns, collected_ns, doc_id)",
    """CREATE TABLE IF NOT EXISTS names (
        doc_id TEXT PRIMARY KEY, child_id TEXT NOT NULL, township TEXT, collected TEXT,
        child_name TEXT, mother_name TEXT)""",
    "CREATE INDEX IF NOT EXISTS names_township ON names (township, child_id, collected, doc_id)",
    """CREATE TABLE IF NOT EXISTS children (
        child_id TEXT PRIMARY KEY, township TEXT, county TEXT, village TEXT, sex TEXT,
        dob TEXT, dob_conflict INTEGER NOT NULL, sex_conflict INTEGER NOT NULL,
        moves TEXT NOT NULL, doses TEXT NOT NULL, visits TEXT NOT NULL, packs TEXT NOT NULL,
        last_visit TEXT, last_pack TEXT)""",
    "CREATE INDEX IF NOT EXISTS children_township ON children (township)",
    """CREATE TABLE IF NOT EXISTS child_townships (
        child_id TEXT NOT NULL, township TEXT NOT NULL, village TEXT,
        village_collected TEXT, village_doc TEXT, PRIMARY KEY (child_id, township))""",
    "CREATE INDEX IF NOT EXISTS child_townships_township ON child_townships (township, child_id)",
    """CREATE TABLE IF NOT EXISTS township_stamps (
        township TEXT PRIMARY KEY, stamp INTEGER NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS register_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_TABLES = (*CONTENT_TABLES, "township_stamps", "register_meta")


class RegisterProjection:
    """The children register; `version` follows the schema and the analytics settings that
    shape its facts (event dates, time zone), so a change of either rebuilds it."""

    name = NAME

    def __init__(self, config: AnalyticsConfig | None = None) -> None:
        self.config = config or load_config()
        shape = json.dumps(
            [SCHEMA_VERSION, dict(self.config.event_dates), self.config.settings.timezone],
            sort_keys=True,
        )
        self.version = f"{SCHEMA_VERSION}-{hashlib.sha256(shape.encode()).hexdigest()[:12]}"

    def create(self, conn: sqlite3.Connection) -> None:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT OR IGNORE INTO register_meta (key, value) VALUES (?, ?)",
            [("generation", uuid.uuid4().hex), ("complete", "0")],
        )

    def drop(self, conn: sqlite3.Connection) -> None:
        for table in _TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")

    def apply(self, conn: sqlite3.Connection, changes: Sequence[Mapping[str, Any]]) -> None:
        found = submission_facts(changes, self.config)
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _docs (id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM _docs")
        conn.executemany("INSERT OR IGNORE INTO _docs VALUES (?)", [(i,) for i in found.doc_ids])
        before = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT child_id FROM facts WHERE doc_id IN (SELECT id FROM _docs)"
            )
        ]
        conn.execute("DELETE FROM facts WHERE doc_id IN (SELECT id FROM _docs)")
        conn.execute("DELETE FROM names WHERE doc_id IN (SELECT id FROM _docs)")
        conn.executemany(
            "INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", found.facts
        )
        conn.executemany("INSERT INTO names VALUES (?, ?, ?, ?, ?, ?)", found.names)
        recompute(conn, {*before, *(row[1] for row in found.facts)})


def recompute(conn: sqlite3.Connection, child_ids: Iterable[str]) -> None:
    """Rebuild the records of these children from their facts (a child without facts is
    removed) and move the stamps of every township they were or are recorded in."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _children (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM _children")
    conn.executemany("INSERT OR IGNORE INTO _children VALUES (?)", [(c,) for c in child_ids])
    towns = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT township FROM child_townships "
            "WHERE child_id IN (SELECT id FROM _children)"
        )
    }
    rows = conn.execute(_FACTS_OF_CHILDREN).fetchall()
    children, places = child_records(facts_frame(rows))
    conn.execute("DELETE FROM children WHERE child_id IN (SELECT id FROM _children)")
    conn.execute("DELETE FROM child_townships WHERE child_id IN (SELECT id FROM _children)")
    conn.executemany(
        "INSERT INTO children VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", children
    )
    conn.executemany("INSERT INTO child_townships VALUES (?, ?, ?, ?, ?)", places)
    towns.update(p[1] for p in places)
    if towns:
        (stamp,) = conn.execute(
            "SELECT COALESCE(MAX(stamp), 0) + 1 FROM township_stamps"
        ).fetchone()
        conn.executemany(
            "INSERT INTO township_stamps (township, stamp) VALUES (?, ?) "
            "ON CONFLICT(township) DO UPDATE SET stamp = excluded.stamp",
            [(t, stamp) for t in sorted(towns)],
        )


_FACTS_OF_CHILDREN = (
    f"SELECT {', '.join(FACT_COLUMNS)} FROM facts "  # noqa: S608 - column names are constants
    "WHERE child_id IN (SELECT id FROM _children) "
    "ORDER BY child_id, event_ns, collected_ns, doc_id"
)
