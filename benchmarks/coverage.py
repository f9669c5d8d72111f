"""Coverage: all indicators for a year at growing sizes. Cold (from CouchDB, empty cache),
warm (from the cache, in a new process) and after 1% new, edited and deleted documents;
seconds and peak memory, and how each cost grows with size (fitted exponent).

The baseline of the warm and refresh figures is the cold computation of the same run."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from benchmarks.common import Result, couch_from_env, growth_exponent
from forms.build import build_forms
from forms.registry import load_registry
from forms.synthetic import Options, generate
from forms.synthetic.sink import build_ingestor, read_submissions
from sync.ingest.store import Incoming
from sync.schema import DATABASES, db_name

ROOT = Path(__file__).resolve().parents[1]
FULL_SCALE = 1_340_000  # deliveries at --scale 1.0 (all townships, 2025-2026)


def _measure(prefix: str, cache: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.coverage_worker", prefix, str(cache)],
        cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"coverage benchmark failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load(n: int, prefix: str, work: Path, forms_dir: Path) -> None:
    """About n submissions through the ingestion core into an empty set of databases."""
    from datetime import UTC, datetime

    out = work / f"gen-{n}"
    generate(Options(scale=min(1.0, n / FULL_SCALE)), out_dir=out, forms_dir=forms_dir)
    ingestor = build_ingestor(couch_from_env(), prefix, forms_dir, load_registry())
    batch: list[Incoming] = []
    for line in read_submissions(out / "submissions.jsonl"):
        received = datetime.fromisoformat(line["received_at"].replace("Z", "+00:00"))
        batch.append(Incoming(line["xml"].encode(), "openrosa", "bench", received.astimezone(UTC)))
        if len(batch) == 500:
            ingestor.ingest_many(batch)
            batch = []
    if batch:
        ingestor.ingest_many(batch)
    shutil.rmtree(out)


def _touch_one_percent(prefix: str, seed: int = 7) -> int:
    """1% of documents: a third new (copies under new ids), a third edited, a third deleted."""
    db = couch_from_env().db(db_name(prefix, "submissions"))
    # Key-ordered paging (Mango's skip-paging on PouchDB Server is quadratic at 1M), ids only:
    # only the documents picked are fetched, not a million into this process.
    ids = [r["id"] for r in db.iter_all_docs(batch=10_000, include_docs=False)]
    ids = [i for i in ids if not i.startswith("_design/")]
    rng = random.Random(seed)
    chosen = rng.sample(ids, max(3, len(ids) // 100))
    found: dict[str, dict] = {}
    for start in range(0, len(chosen), 2000):
        found.update(db.bulk_get(chosen[start : start + 2000]))
    picked = [found[i] for i in chosen if found.get(i, {}).get("type") == "submission"]
    third = len(picked) // 3
    new = [
        {
            **{k: v for k, v in d.items() if k not in ("_rev", "_attachments")},
            "_id": f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        }
        for d in picked[:third]
    ]
    edited = [
        {**d, "village": (d.get("village") or "") + " (edited)"} for d in picked[third : 2 * third]
    ]
    deleted = [{"_id": d["_id"], "_rev": d["_rev"], "_deleted": True} for d in picked[2 * third :]]
    for chunk in (new, edited, deleted):
        results = db.bulk_docs(chunk)
        assert all(r.ok for r in results)
    return len(picked)  # fmt: skip


def run(sizes: tuple[int, ...] = (10_000, 100_000)) -> list[Result]:
    results: list[Result] = []
    cold_s, warm_s, refresh_s, rss = [], [], [], []
    couch = couch_from_env()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        forms_dir = work / "forms"
        build_forms(forms_dir)
        for size in sizes:
            prefix = f"bench_cov_{uuid.uuid4().hex[:8]}_"
            cache = work / f"cache-{size}"
            try:
                _load(size, prefix, work, forms_dir)
                n = couch.db(db_name(prefix, "submissions")).info()["doc_count"]
                cold = _measure(prefix, cache)
                warm = _measure(prefix, cache)
                touched = _touch_one_percent(prefix)
                refresh = _measure(prefix, cache)
            finally:
                for spec in DATABASES:
                    db = couch.db(db_name(prefix, spec.key))
                    if db.exists():
                        db.delete()
            cold_s.append(cold["seconds"])
            warm_s.append(warm["seconds"])
            refresh_s.append(refresh["seconds"])
            rss.append(max(cold["rss_mb"], warm["rss_mb"], refresh["rss_mb"]))
            tag = f"coverage.{size // 1000}k"
            results += [
                Result(f"{tag}.cold", cold["seconds"], "s", None, n, "year, all indicators"),
                Result(f"{tag}.warm", warm["seconds"], "s", cold["seconds"], n, "baseline: cold"),
                Result(f"{tag}.refresh_1pct", refresh["seconds"], "s", cold["seconds"], n,
                       f"{touched} new/edited/deleted; baseline: cold; goal <= 0.10 at 1M"),
                Result(f"{tag}.peak_rss", rss[-1], "MB", None, n, "goal <= 2048 at 1M"),
            ]  # fmt: skip
    if len(sizes) > 1:
        for name, costs in (
            ("cold", cold_s),
            ("warm", warm_s),
            ("refresh", refresh_s),
            ("rss", rss),
        ):
            k = growth_exponent(sizes, costs)
            results.append(Result(f"coverage.growth.{name}", k, "exponent", None, len(sizes),
                                  f"cost ∝ size^k from {sizes[0]:,} to {sizes[-1]:,}"))  # fmt: skip
    return results
