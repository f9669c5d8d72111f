"""How a run cuts its window into time slices: the filters and bounds, as pure values."""

from __future__ import annotations

from sync.central.checkpoint import live_filter
from sync.central.window import Slice, next_bound

T = "2026-11-28T10:00:00.000Z"
U = "2026-11-28T10:00:05.250Z"


def test_a_slice_narrows_the_window_filter_by_submission_date() -> None:
    assert Slice(None, None).narrow(None) is None
    assert Slice(None, None).narrow("__system/edits gt 0") == "__system/edits gt 0"
    assert Slice(None, U).narrow(None) == f"__system/submissionDate le {U}"
    assert Slice(T, U).narrow(live_filter(T)) == (
        f"(__system/submissionDate gt {T} or __system/updatedAt gt {T}) "
        f"and __system/submissionDate gt {T} and __system/submissionDate le {U}"
    )


def test_neighbouring_slices_share_one_literal_bound() -> None:
    first, second = Slice(None, U), Slice(U, None)
    assert first.narrow(None) == f"__system/submissionDate le {U}"
    assert second.narrow(None) == f"__system/submissionDate gt {U}"


def test_the_next_bound_is_the_date_central_showed_or_one_millisecond_on() -> None:
    assert next_bound(None, U) == U
    assert next_bound(T, U) == U
    assert next_bound(T, None) is None  # fewer rows than a slice left: the rest, open above
    # The row a slice further on shows the same millisecond as the bound it starts after
    # (many rows in one millisecond): the slice still moves forward.
    assert next_bound(T, T) == "2026-11-28T10:00:00.001Z"
    assert next_bound(U, T) == "2026-11-28T10:00:05.251Z"
