"""The province-scale data set of `--only paths`: generated once, loaded once, reused.

About N submissions from the synthetic generator over the 29 counties, with one county
made dense (its largest township has about 3,000 children at 1M, the size of the township
a health worker's tablet must carry), loaded through the ingestion core with bulk writes
into a PouchDB Server whose data folder persists. A marker records what was loaded; a
later run with the same seed, size, generator, forms and format reuses it.
"""

from __future__ import annotations

import math
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.parquet as pq

from forms.catalog import FormCatalog
from forms.registry import load_registry
from forms.synthetic import GENERATOR_VERSION, Options, generate
from forms.synthetic.options import DEFAULT_SEED, DEFAULT_YEARS
from forms.synthetic.sink import local_today, registry_places
from sync.couch import CouchClient, Database
from sync.ingest.store import Incoming, Ingestor
from sync.schema import DATABASES, SERVICE_ROLE, db_name, ensure_schema

#: Bumped whenever this module would load a different data set from the same options.
DATA_FORMAT = "1"
SEED = DEFAULT_SEED
#: Submissions of all townships at `--scale 1.0` (2025-2026), as `benchmarks/coverage.py`.
FULL_SCALE = 1_340_000
PROVINCE = 1_000_000
DENSE_CHILDREN = 3_000  # children of the largest township at PROVINCE submissions
STALE_CHAINS = 25  # edited submissions whose first version a stale edit can name
MARKER = "dataset.json"
NO_SUCH_VALUE = "\uffff no document has this value"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """Two generator runs: every township outside the dense county at `rest_scale`, and the
    dense county's townships with `dense_children` children in all."""

    size: int
    county: str
    township: str
    dense: tuple[str, ...]
    rest: tuple[str, ...]
    dense_children: int
    rest_scale: float


def plan_dataset(
    townships: pd.DataFrame,
    targets: pd.DataFrame,
    size: int,
    years: Sequence[int] = DEFAULT_YEARS,
) -> Plan:
    """Which county to make dense and how many children to give it, for about `size`
    submissions in all. The dense county is the one with the fewest townships (lowest code
    on a tie), so one township can reach `DENSE_CHILDREN` at 1M without making the county
    a large share of the province; its township with the most expected births is the one
    the health worker serves.
    """
    births = (
        targets[targets["year"].isin(list(years))]
        .groupby("township_code")["expected_births"]
        .sum()
        .astype(float)
    )
    county_of = townships.set_index("township_code")["county_code"]
    per_county = county_of.groupby(county_of).size()
    county = min(per_county.index, key=lambda c: (per_county[c], c))
    dense = tuple(sorted(county_of.index[county_of == county]))
    rest = tuple(sorted(set(county_of.index) - set(dense)))
    dense_births = births.reindex(list(dense), fill_value=0.0)
    if dense_births.sum() <= 0:
        raise ValueError(f"county {county} has no expected births")
    township = str(dense_births.idxmax())
    share = dense_births.max() / dense_births.sum()
    wanted = max(20, round(DENSE_CHILDREN * size / PROVINCE))
    dense_children = math.ceil(wanted / share)
    per_child = FULL_SCALE / births.sum()  # submissions per child born
    rest_births = births.reindex(list(rest), fill_value=0.0).sum()
    rest_submissions = max(size - dense_children * per_child, 0.1 * size)
    rest_scale = rest_submissions / (rest_births * per_child)
    return Plan(
        size, str(county), township, dense, rest, dense_children, round(float(rest_scale), 6)
    )


# -- the marker -----------------------------------------------------------------------------


def dataset_key(size: int, form_versions: Mapping[str, str]) -> dict[str, Any]:
    """What decides the loaded data: a marker with other values means load again."""
    return {
        "format": DATA_FORMAT,
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "size": size,
        "forms": dict(sorted(form_versions.items())),
    }


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker's content, or None when it is missing or unreadable (a load that died)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def marker_matches(marker: Mapping[str, Any] | None, key: Mapping[str, Any]) -> bool:
    """True when the marker was written for exactly this key."""
    return marker is not None and all(marker.get(k) == v for k, v in key.items())


def write_marker(path: Path, content: Mapping[str, Any]) -> None:
    """Write atomically, so a run that dies mid-write leaves no half marker."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(content, option=orjson.OPT_INDENT_2))
    tmp.replace(path)


# -- submissions' XML -------------------------------------------------------------------------


def resubmitted_xml(xml: bytes, instance_id: str, deprecated_id: str | None = None) -> bytes:
    """The same instance under a new `instanceID`; with `deprecated_id`, an edit naming
    that version (as Collect writes an edited form: `meta/deprecatedID`)."""
    root = ET.fromstring(xml)  # noqa: S314 - the generator's own output
    meta = root.find("meta")
    if meta is None or meta.find("instanceID") is None:
        raise ValueError("no meta/instanceID in the submission")
    meta.find("instanceID").text = instance_id
    for old in meta.findall("deprecatedID"):
        meta.remove(old)
    if deprecated_id is not None:
        ET.SubElement(meta, "deprecatedID").text = deprecated_id
    return ET.tostring(root, encoding="utf-8")


def bench_uuid(n: int, stream: int) -> str:
    """A fixed `uuid:` instanceID for the setup's edits (the same every load)."""
    return f"uuid:{uuid.UUID(int=(SEED << 64) + (stream << 32) + n, version=4)}"


# -- loading --------------------------------------------------------------------------------


def _progress(say: Say, what: str) -> Callable[[int, int], None]:
    start = time.perf_counter()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 15 or done == total:
            last[0] = now
            rate = done / max(now - start, 1e-9)
            say(f"loading {what}: {done:,} / {total:,} ({rate:,.0f} submissions/s)")

    return report


def _stale_chains(ingestor: Ingestor, out: Path, township: str, say: Say) -> list[dict[str, str]]:
    """Edit the first immunization submissions of `township`, so that their first version
    is an old one: a later edit naming it is stale (409)."""
    chains: list[dict[str, str]] = []
    with (out / "submissions.jsonl").open("rb") as lines:
        for line in lines:
            item = orjson.loads(line)
            if item["form_id"] != "immunization" or f">{township}<" not in item["xml"]:
                continue
            original = item["instance_id"]
            edit_id = bench_uuid(len(chains), 1)
            xml = resubmitted_xml(item["xml"].encode(), edit_id, original)
            outcome = ingestor.ingest(Incoming(xml, "openrosa", "bench", datetime.now(UTC)))
            if outcome.result != "updated":
                raise SystemExit(f"paths: setting up a stale edit: {outcome.result} {original}")
            chains.append({"original": original, "current": edit_id, "xml": item["xml"]})
            if len(chains) == STALE_CHAINS:
                break
    say(f"{len(chains)} submissions of {township} edited once (their first version is stale)")
    return chains


def load_dataset(
    couch: CouchClient, prefix: str, forms_dir: Path, plan: Plan, work: Path, say: Say
) -> dict[str, Any]:
    """Generate and load the plan into empty databases; what the marker records.

    The databases get their indexes only after the load: PouchDB Server reads every
    design document for every document written.
    """
    for spec in DATABASES:
        couch.db(db_name(prefix, spec.key)).ensure(
            member_roles=[SERVICE_ROLE], admin_roles=["_admin"]
        )
    registry = load_registry()
    ingestor = Ingestor(
        submissions=couch.db(db_name(prefix, "submissions")),
        quarantine_db=couch.db(db_name(prefix, "quarantine")),
        catalog=FormCatalog.from_dir(forms_dir),
        places=registry_places(registry),
        today=local_today,
    )
    started = time.perf_counter()
    rest = generate(
        Options(seed=SEED, townships=plan.rest, scale=plan.rest_scale),
        ingestor=ingestor, forms_dir=forms_dir, registry=registry,
        progress=_progress(say, f"{len(plan.rest)} townships"),
    )  # fmt: skip
    out = work / "dense"
    dense = generate(
        Options(seed=SEED + 1, townships=plan.dense, children=plan.dense_children),
        out_dir=out, ingestor=ingestor, forms_dir=forms_dir, registry=registry,
        progress=_progress(say, f"county {plan.county}"),
    )  # fmt: skip
    children = pq.read_table(out / "truth" / "children.parquet").to_pandas()
    counts = children[children["registered"]].groupby("township_code").size()
    township = str(counts.idxmax())
    chains = _stale_chains(ingestor, out, township, say)
    load_seconds = time.perf_counter() - started
    say("creating Cradle's indexes")
    ensure_schema(couch, prefix)
    for path in sorted(out.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    out.rmdir()
    return {
        "plan": asdict(plan),
        "deliveries": rest.deliveries + dense.deliveries,
        "documents": couch.db(db_name(prefix, "submissions")).info()["doc_count"],
        "load_seconds": round(load_seconds, 1),
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "township": township,
        "county": plan.county,
        "township_children": int(counts.max()),
        "stale_chains": chains,
    }


# -- CouchDB's own indexes -----------------------------------------------------------------


def _build_design(db: Database, ddoc: dict[str, Any]) -> None:
    """One query that makes the server bring every index of the design document up to date."""
    name = ddoc["_id"].removeprefix("_design/")
    views = ddoc.get("views") or {}
    if ddoc.get("language") == "query":
        for view_name, view in views.items():
            fields = view.get("options", {}).get("def", {}).get("fields", [])
            names = [f if isinstance(f, str) else next(iter(f)) for f in fields]
            if names:
                # a value no document has: the index is brought up to date, nothing is read
                # (PouchDB Server reads every match before applying `limit`: all, at 1M)
                body = {
                    "selector": {names[0]: NO_SUCH_VALUE},
                    "use_index": [name, view_name],
                    "limit": 1,
                }
                db.client.request("POST", f"{db.path}/_find", json=body)
        return
    for view_name in views:  # CouchDB builds them together, PouchDB Server one by one
        db.client.request("GET", f"{db.path}/_design/{name}/_view/{view_name}", params={"limit": 1})


def warm_indexes(couch: CouchClient, prefix: str) -> dict[str, float]:
    """Query every view and Mango index of Cradle's databases once; seconds per design
    document (the cold build on the first run after a load, a no-op afterwards)."""
    seconds: dict[str, float] = {}
    for spec in DATABASES:
        db = couch.db(db_name(prefix, spec.key))
        rows = db.all_docs(start_key="_design/", end_key="_design0", include_docs=True)
        for row in rows:
            start = time.perf_counter()
            _build_design(db, row["doc"])
            seconds[f"{spec.key}/{row['id'].removeprefix('_design/')}"] = (
                time.perf_counter() - start
            )
    return seconds
