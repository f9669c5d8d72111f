"""The background audit writer survives a failing batch and never leaves flush() waiting."""

from __future__ import annotations

from sync.audit import AuditBuffer
from sync.couch import BulkResult


class _FlakyDb:
    name = "audit"

    def __init__(self) -> None:
        self.calls = 0
        self.written: list[str] = []

    def bulk_docs(self, docs):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("client closed")  # not a SyncError: must not kill the thread
        self.written += [d["_id"] for d in docs]
        return [BulkResult(d["_id"], "1-a") for d in docs]


def test_a_failing_batch_is_logged_and_the_writer_goes_on() -> None:
    db = _FlakyDb()
    buffer = AuditBuffer(interval=0.01)
    first = buffer.add(db, action="submission.created", actor="w", source="openrosa")
    assert buffer.flush(timeout=5) is True
    second = buffer.add(db, action="submission.created", actor="w", source="openrosa")
    assert buffer.flush(timeout=5) is True
    assert db.written == [second]
    assert first != second
