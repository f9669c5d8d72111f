"""The checkpoint rule and the oldest-first replay it relies on (pure, no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.central.checkpoint import (
    Batch,
    Checkpoint,
    checkpoint_id,
    deleted_filter,
    format_time,
    live_filter,
    next_checkpoint,
    parse_time,
    window_start,
)
from sync.central.window import Spool, oldest_first, submitted

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def at(ms: int) -> str:
    return format_time(T0 + timedelta(milliseconds=ms))


def test_a_batch_moves_the_checkpoint_to_its_newest_submission_capped_by_the_high_water() -> None:
    start = Checkpoint(at(100))
    assert next_checkpoint(start, Batch(at(500), at(900))).since == at(500)
    assert next_checkpoint(start, Batch(at(950), at(900))).since == at(900)
    assert next_checkpoint(start, Batch(at(50), at(900))).since == at(100)  # never backwards
    assert next_checkpoint(start, Batch(None, at(900), final=True)).since == at(900)
    assert next_checkpoint(start, Batch(None, None, final=True)).since == at(100)
    assert next_checkpoint(Checkpoint(), Batch(at(5), None)).since is None


def test_the_window_starts_an_overlap_before_the_checkpoint() -> None:
    assert window_start(Checkpoint(), 1.0) is None
    assert window_start(Checkpoint("2026-11-28T10:00:00.355Z"), 1.0) == "2026-11-28T09:59:59.355Z"
    assert window_start(Checkpoint("2026-11-28T10:00:00.355Z"), 0.001) == (
        "2026-11-28T10:00:00.354Z"
    )


def test_filters_ask_for_created_updated_and_deleted_rows() -> None:
    assert live_filter(None) is None
    assert live_filter("2026-11-28T10:00:00.000Z") == (
        "__system/submissionDate gt 2026-11-28T10:00:00.000Z or "
        "__system/updatedAt gt 2026-11-28T10:00:00.000Z"
    )
    assert deleted_filter(None) == "__system/deletedAt ne null"
    assert deleted_filter("T").startswith("__system/deletedAt ne null and (__system/deletedAt gt T")
    assert checkpoint_id("https://c.example.org", 5, "immunization") == (
        "checkpoint:central:https://c.example.org|5|immunization"
    )


def test_times_round_trip_in_centrals_format() -> None:
    assert format_time(parse_time("2026-11-28T13:26:41.355Z")) == "2026-11-28T13:26:41.355Z"
    assert format_time(parse_time("2026-11-28T21:26:41.355+08:00")) == "2026-11-28T13:26:41.355Z"


def row(n: int, sd: int, ua: int | None = None, da: int | None = None) -> dict:
    system = {"submissionDate": at(sd), "updatedAt": ua and at(ua), "deletedAt": da and at(da)}
    return {"__id": f"uuid:{n}", "__system": system}


def test_feeds_are_replayed_oldest_first_and_a_deleted_copy_wins() -> None:
    with Spool(keep_ids=True) as deleted, Spool() as live:
        for r in (row(4, 40, da=90), row(2, 20, da=80)):  # newest first, as Central serves
            deleted.append(r)
        for r in (row(5, 50), row(4, 40), row(3, 30, ua=70), row(1, 10)):
            live.append(r)
        order = [
            (r["__id"], r["__system"]["deletedAt"] is not None) for r in oldest_first(deleted, live)
        ]
    assert order == [
        ("uuid:1", False),
        ("uuid:2", True),
        ("uuid:3", False),
        ("uuid:4", True),
        ("uuid:5", False),
    ]


events = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 30), st.integers(0, 30), st.booleans()),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(events=events, batch=st.integers(1, 7), stop=st.integers(0, 10))
def test_every_change_before_the_checkpoint_is_written_and_the_rest_is_reread(
    events, batch, stop
) -> None:
    """Rows created at sd, maybe updated and deleted later; a run replays its window oldest
    first and is cut after `stop` batches. Every change before the checkpoint is written;
    the rest is at or after it, so the next window (which starts an overlap earlier)
    holds it. Rows submitted in the same millisecond may straddle a batch: that is what
    the overlap is for."""
    rows = []
    for n, (sd, du, dd, gone) in enumerate(events):
        ua = sd + du if du else None
        da = sd + du + dd + 1 if gone else None
        rows.append(row(n, sd, ua, da))
    changed = {r["__id"]: max(t for t in r["__system"].values() if t) for r in rows}
    high = max(changed.values())
    with Spool(keep_ids=True) as deleted, Spool() as live:
        for r in sorted(rows, key=submitted, reverse=True):
            (deleted if r["__system"]["deletedAt"] else live).append(r)
        replay = list(oldest_first(deleted, live))
    state, written = Checkpoint(), set()
    batches = [replay[i : i + batch] for i in range(0, len(replay), batch)]
    for k, chunk in enumerate(batches[:stop] if stop < len(batches) else batches):
        written.update(r["__id"] for r in chunk)
        final = stop >= len(batches) and k == len(batches) - 1
        state = next_checkpoint(state, Batch(submitted(chunk[-1]), high, final))
    if state.since is None:
        return
    mark = parse_time(state.since)
    for doc_id, moment in changed.items():
        if parse_time(moment) < mark:
            assert doc_id in written
    start = parse_time(window_start(state, 0.001))
    for doc_id, moment in changed.items():
        if doc_id not in written:
            assert parse_time(moment) > start  # the next run reads it
