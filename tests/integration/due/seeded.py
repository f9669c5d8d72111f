"""The due lists' seeded data set (children A-E of `test_due_api`, posted as Collect posts
them), and what the lists must say about it on `ON`, for the register and manifest tests."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from forms.media import CHILDREN_HEADER, doses_text
from forms.schedule import load_schedule
from server.core.audit import flush_audit
from tests.integration.due.test_due_api import ON, A, B, C, D, E, _visit
from tests.integration.openrosa.conftest import (
    OTHER_COUNTY_TOWNSHIP,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    Collect,
)

__all__ = ["ON", "TOWNSHIP", "A", "B", "C", "D", "E", "md5", "seed", "worker_list"]

#: Due and overdue doses and missed nutrition packs on `ON` (worked out in test_due_api and
#: by hand from forms/schedule.toml: C, born 2026-03-10 with bcg and hepb1, is due the
#: 8-month doses (window to 2026-12-08) and overdue every earlier one).
WORK = {
    A[0]: (
        "dtap4 mmr2 hepa1",
        "hepb1 bcg hepb2 ipv1 ipv2 dtap1 bopv1 dtap2 dtap3 mmr1 jel1 mpsva2",
        True,
    ),
    B[0]: ("hepb2", "", False),
    C[0]: ("mmr1 jel1", "hepb2 ipv1 ipv2 dtap1 bopv1 dtap2 dtap3 hepb3 mpsva1", True),
}


def seed(built_forms: Path) -> None:
    """A, B, C in the worker's township; D in another of the county; E in another county."""
    worker, sup, other = Collect("worker"), Collect("sup"), Collect("other_sup")
    for child in (A, B, C):
        assert worker.submit(_visit(built_forms, child, TOWNSHIP)).status_code == 201
    assert sup.submit(_visit(built_forms, D, OTHER_TOWNSHIP)).status_code == 201
    posted = other.submit(_visit(built_forms, E, OTHER_COUNTY_TOWNSHIP, county="450124"))
    assert posted.status_code == 201
    flush_audit()  # the audit trail's buffered writes, before a test watches CouchDB requests


def worker_list(changed: dict[str, tuple[str, str, bool]] | None = None) -> bytes:
    """The exact `children.csv` of the health worker of `TOWNSHIP` on `ON` (with the work
    of some children `changed`)."""
    work = {**WORK, **(changed or {})}
    schedule = load_schedule()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CHILDREN_HEADER)
    for child, name, sex, dob, village, *_ in (A, C, B):  # by village, then child id
        due, overdue, hungry = work[child]
        writer.writerow(
            [
                child,
                f"{child} {name}",
                TOWNSHIP,
                village,
                name,
                sex,
                dob,
                due,
                overdue,
                doses_text(schedule, due, overdue, nutrition_overdue=hungry),
            ]
        )
    return out.getvalue().encode("utf-8")


def md5(content: bytes) -> str:
    return "md5:" + hashlib.md5(content, usedforsecurity=False).hexdigest()
