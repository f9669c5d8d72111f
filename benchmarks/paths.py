"""Province scale (issue 14): the paths people and tablets wait on, at about N submissions.

The data set is loaded once into a PouchDB Server of its own whose folder persists
(`.data/bench-paths-<N>/`), and reused while its marker matches. Cradle runs under
gunicorn with a persistent data folder too, so its caches are warm across runs; the cold
builds (`cradle index refresh --rebuild`, the analytics cache) are measured in every run
in an empty folder. Each path: one untimed request, then p50/p95 of `requests` timed
ones, against CouchDB baselines of the same run. What a run changes is undone at its end.

Example: python -m benchmarks --only paths --paths-size 20000
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result
from benchmarks.paths_churn import Journal, revert
from benchmarks.paths_data import (
    MARKER,
    dataset_key,
    load_dataset,
    marker_matches,
    plan_dataset,
    read_marker,
    warm_indexes,
    write_marker,
)
from benchmarks.paths_http import COUCH_PASSWORD, COUCH_USER, ROOT, Cradle, PouchServer, vm_hwm_mb
from benchmarks.paths_rows import (
    ANALYST,
    GOAL_MB,
    JOURNAL,
    PASSWORD,
    PREFIX,
    SUPERVISOR,
    WORKER,
    Bench,
    last_full_quarter,
    say,
)
from forms.build import build_forms
from forms.catalog import FormCatalog
from forms.registry import load_registry
from forms.synthetic.options import DEFAULT_UNTIL
from sync.couch import CouchClient, CouchSettings
from sync.schema import db_name

DEFAULT_SIZE = 1_000_000
NAN = float("nan")


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None, check: bool = True
) -> tuple[float, int, str]:
    """Run `cradle ARGS` to the end: (seconds, exit code, last lines of stderr)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cradle", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=7200, check=False,
    )  # fmt: skip
    tail = " ".join(done.stderr.strip().splitlines()[-3:])[-300:]
    if check and done.returncode != 0:
        raise SystemExit(f"paths: cradle {' '.join(args[:3])} failed: {tail}")
    return time.perf_counter() - start, done.returncode, tail


def _has_command(env: dict[str, str], *words: str) -> bool:
    return _cli(env, *words, "--help", check=False)[1] == 0


def cradle_env(couch_url: str, data_dir: Path, forms_dir: Path) -> dict[str, str]:
    """Cradle's settings for this benchmark's server and folders, nothing inherited."""
    own = ("COUCHDB_", "CRADLE_", "DJANGO_", "DATABASE_URL")
    return {k: v for k, v in os.environ.items() if not k.startswith(own)} | {
        "COUCHDB_URL": couch_url,
        "COUCHDB_USER": COUCH_USER,
        "COUCHDB_PASSWORD": COUCH_PASSWORD,
        "COUCHDB_DB_PREFIX": PREFIX,
        "CRADLE_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'cradle.sqlite3'}",
        "CRADLE_FORMS_DIR": str(forms_dir),
        "CRADLE_LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "false",
    }


def _users(env: dict[str, str], info: dict) -> None:
    """Django afresh every run (users, sessions, login throttling); CouchDB is kept."""
    Path(env["CRADLE_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    Path(env["CRADLE_DATA_DIR"], "cradle.sqlite3").unlink(missing_ok=True)
    _cli(env, "setup")
    for user, role, area in (
        (WORKER, "health_worker", info["township"]),
        (SUPERVISOR, "supervisor", info["county"]),
        (ANALYST, "analyst", None),
    ):
        areas = ["--area", area] if area else []
        _cli(env, "users", "create", user, "--role", role, *areas, "--password-stdin",
             stdin=PASSWORD + "\n")  # fmt: skip


def _builds(env: dict[str, str], period: str, county: str) -> tuple[list[Result], dict]:
    """Cold builds in an empty data folder, then the server's own folder brought up to date
    (a no-op but for what the last run undid; the whole build after a new load)."""
    results: list[Result] = []
    cold: dict[str, float | None] = {"register": None, "analytics": None}
    coverage = ["coverage", "--period", period, "--county", county, "--format", "json", "--quiet"]
    has_index = _has_command(env, "index", "refresh")
    with tempfile.TemporaryDirectory(prefix="bench-paths-cold-") as tmp:
        empty = env | {"CRADLE_DATA_DIR": tmp, "DATABASE_URL": f"sqlite:///{tmp}/cradle.sqlite3"}
        if has_index:
            _cli(empty, "manage", "migrate", "--verbosity", "0")
            seconds, code, tail = _cli(empty, "index", "refresh", "--rebuild", check=False)
            cold["register"] = seconds if code == 0 else None
            note = "`cradle index refresh --rebuild`, empty data folder, process start included"
            results.append(
                Result("paths.cold.register", seconds if code == 0 else NAN, "s", None, 1,
                       note if code == 0 else f"failed (exit {code}): {tail}")
            )  # fmt: skip
        else:
            missing = "not available: no `cradle index refresh` command yet"
            results.append(Result("paths.cold.register", NAN, "s", None, 0, missing))
        seconds, _, _ = _cli(empty, *coverage, "--out", f"{tmp}/out", "--rebuild-cache")
        cold["analytics"] = seconds
        note = f"`cradle {' '.join(coverage[:5])}` with an empty cache"
        results.append(Result("paths.cold.analytics", seconds, "s", None, 1, note))
        if has_index:
            seconds, code, tail = _cli(env, "index", "refresh", check=False)
            results.append(Result("paths.catch_up.register", seconds if code == 0 else NAN, "s",
                                  None, 1, "the server's own folder, before it starts"
                                  if code == 0 else f"failed (exit {code}): {tail}"))  # fmt: skip
        seconds, _, _ = _cli(env, *coverage, "--out", f"{tmp}/out")
        results.append(Result("paths.catch_up.analytics", seconds, "s", None, 1,
                              "the server's own cache, before it starts"))  # fmt: skip
    return results, cold


def _memory(cradle: Cradle, log: Path, log_start: int) -> list[Result]:
    text = log.read_bytes()[log_start:].decode("utf-8", "replace") if log.exists() else ""
    restarts = text.count("WORKER TIMEOUT")
    note = f"VmHWM after the run; {restarts} worker timeouts in gunicorn's log this run"
    return [
        Result(f"paths.memory.worker{i}", vm_hwm_mb(pid), "MB", None, 1, note, goal=GOAL_MB)
        for i, pid in enumerate(cradle.worker_pids(), start=1)
    ]


def _fresh_folder(home: Path) -> None:
    """Forget a data set that no longer matches: its server, data, caches and marker."""
    PouchServer(home / "couch").stop()
    for name in ("couch", "cradle"):
        shutil.rmtree(home / name, ignore_errors=True)
    for name in (MARKER, JOURNAL):
        (home / name).unlink(missing_ok=True)


def run(size: int = DEFAULT_SIZE, requests: int = 20) -> list[Result]:
    home = ROOT / ".data" / f"bench-paths-{size}"
    home.mkdir(parents=True, exist_ok=True)
    forms_dir = home / "forms"
    build_forms(forms_dir)
    versions = {f.form_id: f.version for f in FormCatalog.from_dir(forms_dir).forms.values()}
    key = dataset_key(size, versions)
    marker = read_marker(home / MARKER)
    fresh = not marker_matches(marker, key) or not (home / "couch" / "db").is_dir()
    if fresh:
        _fresh_folder(home)
    results: list[Result] = []
    with PouchServer(home / "couch") as pouch:
        couch = CouchClient(
            CouchSettings.from_url(pouch.url, COUCH_USER, COUCH_PASSWORD, timeout=3600)
        )
        submissions = couch.db(db_name(PREFIX, "submissions"))
        if fresh:
            registry = load_registry()
            plan = plan_dataset(registry.townships, registry.targets, size)
            say(f"loading about {size:,} submissions into {home} (county {plan.county} dense)")
            marker = {**key, **load_dataset(couch, PREFIX, forms_dir, plan, home, say)}
            write_marker(home / MARKER, marker)
        elif undone := revert(submissions, home / JOURNAL):
            say(f"undid {undone:,} changes left by a run that did not finish")
        assert marker is not None
        results.append(
            Result("paths.data.load", marker["load_seconds"], "s", None, marker["deliveries"],
                   f"{'loaded this run' if fresh else 'reused; loaded ' + marker['loaded_at']}: "
                   f"{marker['deliveries']:,} submissions; health worker's township "
                   f"{marker['township']} has {marker['township_children']:,} children")
        )  # fmt: skip
        env = cradle_env(pouch.url, home / "cradle", forms_dir)
        _users(env, marker)  # `cradle setup` first: it adds any index the schema gained
        say("bringing CouchDB's views and indexes up to date")
        built = warm_indexes(couch, PREFIX)
        slowest = max(built, key=built.get, default="")
        results.append(Result("paths.couch.index_build", sum(built.values()), "s", None,
                              len(built), f"first query of each design document; slowest "
                              f"{slowest} {built.get(slowest, 0):,.1f} s"))  # fmt: skip
        period = last_full_quarter(DEFAULT_UNTIL)
        say(f"cold builds and catching up (period {period}, county {marker['county']})")
        built_results, cold = _builds(env, period, marker["county"])
        results += built_results
        journal = Journal(home / JOURNAL)
        log = home / "gunicorn.log"
        log_start = log.stat().st_size if log.exists() else 0
        try:
            with Cradle(env, log) as cradle:
                bench = Bench(cradle, pouch.url, marker, requests)
                try:
                    say(f"timing each path ({requests} requests after one untimed)")
                    one, page = bench.baselines()
                    bench.manifest(page)
                    bench.due(page)
                    bench.submissions(one, journal)
                    bench.listing(page)
                    bench.coverage(page)
                    bench.keep_up(submissions, journal, cold)
                    results += bench.results + _memory(cradle, log, log_start)
                finally:
                    bench.close()
        finally:
            if pouch.alive():
                undone = revert(submissions, home / JOURNAL)
                say(f"undid this run's {undone:,} changes")
            couch.close()
        if not pouch.alive():  # the journal stays: the next run undoes it first
            raise SystemExit(
                f"paths: the PouchDB Server died during the run; see {home}/couch/stdout.log"
            )
    return results
