"""Submissions in arrival order, rendered to XML a chunk at a time (never all at once)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np

from forms.synthetic.dates import utc_timestamps
from forms.synthetic.faults import Submissions
from forms.synthetic.instances import FormTemplate, leaf_texts
from forms.synthetic.truth import expected_results

DEFAULT_CHUNK = 20_000


class Delivery(NamedTuple):
    """One submission as it reaches the server: which form, when, the XML, and what the
    ingestion core should answer (`created`, `updated`, `unchanged`, `quarantined`)."""

    form_id: str
    instance_id: str
    received_at: str
    received_ms: int
    xml: str
    expected: str
    reason: str | None


def iter_deliveries(
    submissions: Submissions,
    templates: Mapping[str, FormTemplate],
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[list[Delivery]]:
    """Lists of deliveries in arrival order; a resend is the same XML string again."""
    a = submissions.arrivals
    expected = expected_results(submissions)
    total = len(a["row"])
    for begin in range(0, total, chunk):
        stop = min(begin + chunk, total)
        form, row = a["form"][begin:stop], a["row"][begin:stop]
        xml = np.empty(stop - begin, dtype=object)
        ids = np.empty(stop - begin, dtype=object)
        reasons = np.empty(stop - begin, dtype=object)
        for f, form_id in enumerate(submissions.form_ids):
            mask = form == f
            if not mask.any():
                continue
            table = submissions.forms[form_id]
            rows, back = np.unique(row[mask], return_inverse=True)
            rendered = np.array(render_rows(templates[form_id], table, rows), dtype=object)
            xml[mask] = rendered[back]
            ids[mask] = table["instanceID"][row[mask]]
            reasons[mask] = table["reason"][row[mask]]
        names = np.array(submissions.form_ids, dtype=object)[form]
        received = a["received"][begin:stop]
        yield [
            Delivery(*fields)
            for fields in zip(
                names.tolist(),
                ids.tolist(),
                utc_timestamps(received),
                received.tolist(),
                xml.tolist(),
                expected[begin:stop].tolist(),
                reasons.tolist(),
                strict=True,
            )
        ]


def render_rows(
    template: FormTemplate, table: Mapping[str, np.ndarray], rows: np.ndarray
) -> list[str]:
    """The XML of the given rows of one form's submissions table."""
    texts = leaf_texts(template, table, rows)
    deprecated = ["" if d is None else d for d in table["deprecatedID"][rows].tolist()]
    return template.render(texts, deprecated)
