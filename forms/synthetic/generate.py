"""`generate()`: simulate, render and send the dataset to a folder and/or CouchDB.

This is the edge where files, the registry and the clock are read; everything it calls
before the sinks is pure.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forms.registry import Registry, load_registry
from forms.schedule import load_schedule
from forms.synthetic.faults import EDIT, FORM_DATE, Submissions, make_submissions
from forms.synthetic.instances import load_templates, without_non_relevant
from forms.synthetic.model import Simulation, simulate
from forms.synthetic.options import GENERATOR_VERSION, Options
from forms.synthetic.sink import (
    CouchSink,
    FolderSink,
    LoadSummary,
    local_today,
    write_manifest,
    write_truth,
)
from forms.synthetic.stream import DEFAULT_CHUNK, iter_deliveries
from forms.synthetic.townships import select_townships
from forms.synthetic.truth import truth_tables
from sync.ingest.store import Ingestor

DEFAULT_FORMS_DIR = Path(__file__).resolve().parents[2] / "build" / "forms"

Progress = Callable[[int, int], None]


def forms_dir_default() -> Path:
    """`$CRADLE_FORMS_DIR`, or `build/forms` of this source tree."""
    return Path(os.environ.get("CRADLE_FORMS_DIR") or DEFAULT_FORMS_DIR)


@dataclass
class Result:
    """What was generated: the manifest's numbers, and the CouchDB answers when loaded."""

    manifest: dict[str, Any]
    couch: LoadSummary | None
    seconds: float

    @property
    def deliveries(self) -> int:
        return int(self.manifest["counts"]["deliveries"])


def places_with_points(registry: Registry, options: Options) -> pd.DataFrame:
    """The selected townships with a point inside each (`lat`, `lon`) for GPS answers."""
    selected = select_townships(registry.townships, options)
    points = registry.boundaries.set_index("township_code").geometry.representative_point()
    selected["lat"] = points.y.reindex(selected["township_code"]).to_numpy()
    selected["lon"] = points.x.reindex(selected["township_code"]).to_numpy()
    return selected


def prepare(options: Options, registry: Registry) -> tuple[Simulation, Submissions]:
    """Simulate and fault the dataset (pure given the registry). The visits live on in the
    submissions, so the returned simulation keeps only townships and children."""
    places = places_with_points(registry, options)
    simulation = simulate(places, registry.targets, load_schedule(), options)
    submissions = make_submissions(
        simulation.visits, simulation.townships, registry.township_codes(), options
    )
    return replace(simulation, visits={}), submissions


def generate(
    options: Options,
    *,
    out_dir: Path | None = None,
    compress: bool = False,
    ingestor: Ingestor | None = None,
    forms_dir: Path | None = None,
    registry: Registry | None = None,
    today: date | None = None,
    progress: Progress | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> Result:
    """Generate the dataset into `out_dir` and/or through `ingestor` into CouchDB.

    `today` (default: today in Asia/Shanghai) bounds `options.until`. Raises
    `SyntheticError` for impossible options, and after loading when the server's
    answers contradict the truth (a valid submission quarantined, ...).
    """
    started = time.perf_counter()
    options.check(today or local_today())
    registry = load_registry() if registry is None else registry
    with _without_cycle_collection():
        simulation, submissions = prepare(options, registry)
    templates = load_templates(forms_dir or forms_dir_default(), submissions.form_ids)
    for form_id, template in templates.items():  # what ODK leaves out is not submitted
        submissions.forms[form_id] = without_non_relevant(template, submissions.forms[form_id])
    sinks: list[FolderSink | CouchSink] = []
    if out_dir is not None:
        sinks.append(FolderSink(out_dir, compress=compress))
    couch = CouchSink(ingestor) if ingestor is not None else None
    if couch is not None:
        sinks.append(couch)
    if couch is not None:  # smaller steps: CouchDB takes a while per chunk
        chunk = min(chunk, 2_000)
    total = len(submissions.arrivals["row"])
    done = 0
    try:
        with _without_cycle_collection():
            for deliveries in iter_deliveries(submissions, templates, chunk):
                for sink in sinks:
                    sink.write(deliveries)
                done += len(deliveries)
                if progress is not None:
                    progress(done, total)
    finally:
        for sink in sinks:
            sink.close()
    manifest = build_manifest(options, simulation, submissions, templates_versions(templates))
    if out_dir is not None:
        with _without_cycle_collection():
            write_truth(out_dir, truth_tables(simulation, submissions, load_schedule()))
        manifest["files"] = [p.as_posix() for p in _relative_files(out_dir)]
        write_manifest(out_dir, manifest)
    if couch is not None:
        couch.summary.check()
    return Result(manifest, couch.summary if couch else None, time.perf_counter() - started)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The simulation and rendering make millions of objects but no reference cycles; the
    cycle collector would only rescan the large tables over and over (a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def templates_versions(templates: dict[str, Any]) -> dict[str, str]:
    return {form_id: t.version for form_id, t in templates.items()}


def _relative_files(out_dir: Path) -> list[Path]:
    names = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())
    return [p for p in names if p.name != "manifest.json"]


def build_manifest(
    options: Options,
    simulation: Simulation,
    submissions: Submissions,
    versions: dict[str, str],
) -> dict[str, Any]:
    """Seed, options, counts per form, generator version and the date range (no clock)."""
    forms: dict[str, Any] = {}
    firsts, lasts = [], []
    kinds = submissions.arrivals["kind"]
    for f, form_id in enumerate(submissions.form_ids):
        table = submissions.forms[form_id]
        mine = submissions.arrivals["form"] == f
        forms[form_id] = {
            "form_version": versions.get(form_id),
            "submissions": len(table["child"]),
            "originals": int((table["version"] == 1).sum()),
            "edits": int((kinds[mine] == EDIT).sum()),
            "duplicates": int(table["duplicates"].sum()),
            "invalid": int(table["invalid"].sum()),
            "late": int(table["late"].sum()),
            "counted": int(table["counts"].sum()),
            "deliveries": int(mine.sum()),
        }
        if len(table["date"]):
            firsts.append(table["date"].min())
            lasts.append(table["date"].max())
    received = submissions.arrivals["received"]
    children = simulation.children
    return {
        "generator": "cradle demo generate",
        "generator_version": GENERATOR_VERSION,
        "seed": options.seed,
        "options": options.as_json(),
        "counts": {
            "townships": len(simulation.townships),
            "counties": int(simulation.townships["county_code"].nunique()),
            "children": len(children["child"]),
            "deliveries": len(received),
            "forms": forms,
        },
        "date_range": {
            "births": _range(children["child_dob"]),
            "visits": [_day(min(firsts)), _day(max(lasts))] if firsts else None,
            "received": [_utc(received.min()), _utc(received.max())] if len(received) else None,
            "until": options.until.isoformat(),
        },
        "form_date_fields": FORM_DATE,
    }


def _day(value: np.datetime64) -> str:
    return str(np.datetime64(value, "D"))


def _range(days: np.ndarray) -> list[str] | None:
    return [_day(days.min()), _day(days.max())] if len(days) else None


def _utc(ms: int) -> str:
    return str(np.datetime64(int(ms), "ms")) + "Z"
