"""The children register: due work equal to the analytics', any sequence of changes equal to
a rebuild, names apart."""

from __future__ import annotations

import copy
import random
import sqlite3

import pandas as pd
import pytest

from analytics import columns as C
from analytics import register
from analytics.children import children_table
from analytics.config import load_config
from analytics.due import due_children
from analytics.records import analysed_columns, explode_doses, prepare_records
from analytics.register import read
from analytics.register.projection import RegisterProjection
from forms.registry import load_registry
from forms.schedule import load_schedule
from tests.unit.analytics.dataset import small_dataset
from tests.unit.analytics.factories import (
    TOWN_A,
    TOWN_B,
    TOWN_C,
    frame,
    immunization,
    newborn,
    nutrition,
)

CONFIG = load_config()
SCHEDULE = load_schedule()

EDGES = [
    # K-MOVE: recorded in A, then B, then C (another county), twice on one day in B and A.
    newborn("K-MOVE", "2026-01-05", dob="2026-01-02", township=TOWN_A),
    immunization("K-MOVE", "2026-02-05", ["hepb2"], dob="2026-01-02", township=TOWN_B),
    immunization("K-MOVE", "2026-03-05", ["ipv1"], dob="2026-01-02", township=TOWN_B),
    immunization("K-MOVE", "2026-03-05", ["dtap1"], dob="2026-01-02", township=TOWN_A),
    immunization("K-MOVE", "2026-08-05", ["ipv2"], dob="2026-01-02", township=TOWN_C),
    # K-CONFLICT: dob and sex disagree; the newborn visit decides.
    newborn("K-CONFLICT", "2026-04-03", dob="2026-04-01", sex="male"),
    immunization("K-CONFLICT", "2026-05-03", ["hepb2"], dob="2026-04-02", sex="female"),
    immunization("K-CONFLICT", "2026-06-03", ["ipv1"], dob="2026-04-02", sex="female"),
    # K-DELETED: a soft-deleted dose does not count.
    immunization("K-DELETED", "2026-02-01", ["bcg", "hepb1"], dob="2026-01-30"),
    immunization("K-DELETED", "2026-03-01", ["hepb2"], dob="2026-01-30", deleted=True),
    # K-PACKS: a pack of 0 is no pack; the dose given twice counts from its first date.
    nutrition("K-PACKS", "2026-07-01", dob="2025-12-01"),
    nutrition("K-PACKS", "2026-09-20", dob="2025-12-01", packs_given=0),
    immunization("K-PACKS", "2026-06-01", ["hepb3"], dob="2025-12-01"),
    immunization("K-PACKS", "2026-07-01", ["hepb3", "mpsva1"], dob="2025-12-01"),
    # K-LATE: born after some of the dates asked; K-NODOB: no date of birth at all.
    immunization("K-LATE", "2026-10-02", ["bcg"], dob="2026-10-01", township=TOWN_B),
    immunization("K-NODOB", "2026-05-05", ["bcg"], dob="", township=TOWN_B),
    # no child id: never a record.
    immunization(None, "2026-05-05", ["bcg"], township=TOWN_B),  # type: ignore[arg-type]
]
DATES = ["2025-06-01", "2026-03-05", "2026-03-15", "2026-08-04", "2026-09-30", "2026-11-28"]


def _register(docs: list[dict], page: int = 50) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    projection = RegisterProjection()
    projection.create(conn)
    rows = [{"id": d["_id"], "doc": d} for d in docs]
    for start in range(0, len(rows), page):
        projection.apply(conn, rows[start : start + page])
    return conn


def _reference(docs: list[dict], on: str, towns: list[str] | None) -> pd.DataFrame:
    """The due work as the analytics frame gave it before the register."""
    records = prepare_records(
        frame(docs),
        event_dates=CONFIG.event_dates,
        timezone=CONFIG.settings.timezone,
        columns=[*analysed_columns(CONFIG), C.PACKS_GIVEN],
    )
    doses = explode_doses(records)
    children = children_table(records, on=on, townships=load_registry().townships)
    if towns is not None:
        children = children.loc[children[C.TOWNSHIP].isin(set(towns))]
    children = children.loc[~(children[C.DOB] > pd.Timestamp(on))]
    ids = set(children[C.CHILD_ID])
    return due_children(
        children.reset_index(drop=True),
        records.loc[records[C.CHILD_ID].isin(ids).to_numpy()],
        doses.loc[doses[C.CHILD_ID].isin(ids).to_numpy()],
        on=on,
        schedule=SCHEDULE,
    )


def _sorted(work: pd.DataFrame) -> pd.DataFrame:
    return work.sort_values(C.CHILD_ID).reset_index(drop=True)


def _content(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    return {
        t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
        for t in register.CONTENT_TABLES
    }


@pytest.mark.parametrize("on", DATES)
def test_due_work_from_the_register_equals_the_analytics_frame(on: str) -> None:
    docs = small_dataset(120)[0] + EDGES
    conn = _register(docs)
    for towns in ([TOWN_A], [TOWN_B], [TOWN_A, TOWN_B, TOWN_C], None):
        expected = _sorted(_reference(docs, on, towns))
        got = _sorted(read.due_work(conn, on=on, townships=towns, schedule=SCHEDULE))
        pd.testing.assert_frame_equal(got, expected)
        assert towns is not None or len(got) > 50


def test_a_child_is_placed_by_the_latest_record_on_or_before_the_date() -> None:
    conn = _register(EDGES)

    def where(on: str) -> str:
        work = read.due_work(conn, on=on, townships=None, schedule=SCHEDULE)
        return work.set_index(C.CHILD_ID).loc["K-MOVE", C.TOWNSHIP]

    # Two records on 2026-03-05: B's was collected first, so A's is the latest.
    assert [where(d) for d in ("2026-01-04", "2026-02-05", "2026-03-05", "2026-08-05")] == [
        TOWN_A,
        TOWN_B,
        TOWN_A,
        TOWN_C,
    ]


def test_the_record_of_a_child() -> None:
    conn = _register(EDGES)
    names = [d[1] for d in conn.execute("PRAGMA table_info(children)")]
    rows = conn.execute("SELECT * FROM children WHERE child_id IN ('K-MOVE', 'K-PACKS')")
    record = {r[0]: dict(zip(names, r, strict=True)) for r in rows}
    assert record["K-MOVE"] == {
        "child_id": "K-MOVE",
        "township": TOWN_C,
        "county": "450124",
        "village": "村",
        "sex": "female",
        "dob": "2026-01-02",
        "dob_conflict": 0,
        "sex_conflict": 0,
        "moves": (
            '[["2026-01-05","450123101"],["2026-02-05","450123102"],'
            '["2026-03-05","450123101"],["2026-08-05","450124101"]]'
        ),
        "doses": (
            '{"dtap1":"2026-03-05","hepb2":"2026-02-05","ipv1":"2026-03-05","ipv2":"2026-08-05"}'
        ),
        "visits": '["2026-01-05","2026-02-05","2026-03-05","2026-08-05"]',
        "packs": "[]",
        "last_visit": "2026-08-05",
        "last_pack": None,
    }
    assert record["K-PACKS"]["doses"] == '{"hepb3":"2026-06-01","mpsva1":"2026-07-01"}'
    assert (record["K-PACKS"]["packs"], record["K-PACKS"]["last_pack"]) == (
        '["2026-07-01"]',
        "2026-07-01",
    )
    places = conn.execute(
        "SELECT township FROM child_townships WHERE child_id = 'K-MOVE' ORDER BY township"
    )
    assert [p[0] for p in places] == [TOWN_A, TOWN_B, TOWN_C]


def _edit(doc: dict, rng: random.Random) -> dict:
    """A new version of `doc`: another township, date of birth, dose, village or name."""
    new = copy.deepcopy(doc)
    what = rng.choice(["township", "dob", "doses", "village", "name", "child"])
    if what == "township":
        town = rng.choice([TOWN_A, TOWN_B, TOWN_C])
        new["township_code"], new["county_code"] = town, town[:6]
    elif what == "dob":
        new["data"]["child_dob"] = rng.choice(["2025-11-30", "2026-01-15", "2026-02-28"])
    elif what == "doses" and new["form_id"] == "immunization":
        new["data"]["doses_given"] = rng.sample(["bcg", "hepb1", "hepb2", "ipv1", "dtap1"], 2)
    elif what == "village":
        new["village"] = rng.choice(["弄岗村", "那桐村", "", None])
    elif what == "name":
        new["data"]["child_name"] = rng.choice(["梁宇", "韦小玲", ""])
    else:
        new["child_id"] = rng.choice(["K000001", "K000002", "K-NEW"])
    new["collected_at"] = f"2026-10-{rng.randrange(1, 29):02d}T10:00:00.000+08:00"
    return new


@pytest.mark.parametrize("seed", range(6))
def test_any_sequence_of_changes_equals_a_rebuild(seed: int) -> None:
    rng = random.Random(seed)
    pool = small_dataset(24, seed=seed)[0] + copy.deepcopy(EDGES)
    current: dict[str, dict | None] = {}
    incremental = _register([])
    projection = RegisterProjection()
    pending = list(pool)
    rng.shuffle(pending)
    while pending or rng.random() < 0.8:
        touched: set[str] = set()
        for _ in range(rng.randrange(1, 15)):
            roll = rng.random()
            known = [i for i, d in current.items() if d is not None]
            if pending and (roll < 0.5 or not known):
                doc = pending.pop()
                doc_id = doc["_id"]
                current[doc_id] = doc
            elif not known:
                break
            else:
                doc_id = rng.choice(known)
                if roll < 0.75:
                    current[doc_id] = _edit(current[doc_id], rng)
                elif roll < 0.85:
                    current[doc_id] = {**current[doc_id], "deleted": True}
                elif roll < 0.9:
                    current[doc_id] = {**current[doc_id], "deleted": False}
                else:
                    current[doc_id] = None  # removed: a `deleted` row in the feed
            touched.add(doc_id)
        # a page lists each touched document as it is now, some others again (repeats)
        again = rng.sample(sorted(current), min(3, len(current)))
        rows = [
            {"id": i, "doc": current[i], "deleted": current[i] is None} for i in {*touched, *again}
        ]
        rng.shuffle(rows)
        projection.apply(incremental, rows)
        if not pending and rng.random() < 0.3:
            break
    final = [
        {"id": i, "doc": d, "deleted": d is None} for i, d in sorted(current.items(), reverse=True)
    ]
    rebuilt = _register([])
    projection.apply(rebuilt, final)
    assert _content(incremental) == _content(rebuilt)
    live = [d for d in current.values() if d is not None and not d.get("deleted")]
    assert {r[0] for r in incremental.execute("SELECT child_id FROM children")} == {
        d["child_id"] for d in live if d.get("child_id")
    }


def test_a_child_whose_submissions_are_all_gone_disappears_and_stamps_move() -> None:
    docs = [
        immunization("K1", "2026-02-01", ["bcg"], township=TOWN_A),
        immunization("K1", "2026-03-01", ["hepb2"], township=TOWN_B),
        immunization("K2", "2026-03-01", ["hepb2"], township=TOWN_C),
    ]
    conn = _register(docs)
    before = dict(conn.execute("SELECT township, stamp FROM township_stamps"))
    projection = RegisterProjection()
    projection.apply(conn, [{"id": docs[0]["_id"], "deleted": True, "doc": None}])
    projection.apply(conn, [{"id": docs[1]["_id"], "doc": {**docs[1], "deleted": True}}])
    after = dict(conn.execute("SELECT township, stamp FROM township_stamps"))
    assert [r[0] for r in conn.execute("SELECT child_id FROM children")] == ["K2"]
    assert (
        conn.execute("SELECT COUNT(*) FROM child_townships WHERE child_id = 'K1'").fetchone()[0]
        == 0
    )
    assert after[TOWN_A] > before[TOWN_A] and after[TOWN_B] > before[TOWN_B]
    assert after[TOWN_C] == before[TOWN_C]
    assert read.due_work(conn, on="2026-11-28", townships=[TOWN_A, TOWN_B]).empty


def test_names_are_read_only_by_the_names_function() -> None:
    docs = [
        immunization("K1", "2026-02-01", ["bcg"], township=TOWN_A),
        {**immunization("K1", "2026-03-01", ["hepb2"], township=TOWN_A), "village": "那桐村"},
        immunization("K2", "2026-03-01", ["hepb2"], township=TOWN_B),
    ]
    docs[1]["data"]["child_name"] = "韦小玲"
    conn = _register(docs)
    reads: list[str] = []

    def watch(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table is not None:
            reads.append(table)
        return sqlite3.SQLITE_OK

    conn.set_authorizer(watch)
    work = read.due_work(conn, on="2026-11-28", townships=[TOWN_A], schedule=SCHEDULE)
    assert read.villages(conn, [TOWN_A], ["K1", "K2"]) == {"K1": "那桐村"}
    assert work[C.CHILD_ID].tolist() == ["K1"] and "names" not in reads
    assert read.child_names(conn, [TOWN_A], ["K1", "K2"]) == {"K1": "韦小玲"}
    assert "names" in reads
    for table in ("facts", "children", "child_townships"):
        text = repr(conn.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
        assert "韦小玲" not in text and "王小明" not in text and "李" not in text
