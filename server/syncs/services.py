"""Starting Central sync runs from the API, and reading their records.

A run is started by taking the source's lock on the run's behalf (so a second start is
refused at once with 409), writing its record, and spawning `cradle sync central
--source S --run-id ID` as a detached process that takes the lock over, works, and
keeps the record current. The API never syncs in a request thread.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from server.accounts.scope import Scope
from server.core.couch import cradle_db
from server.core.errors import ApplicationError
from sync.central import runs
from sync.central.cli import command_argv
from sync.central.config import Source, config_path, configured, find_source, load_sources
from sync.central.lock import acquire, holder
from sync.errors import CentralError, SourceBusy

log = logging.getLogger(__name__)

#: How long the lock taken for a starting run waits for its process to take it over.
START_LEASE_SECONDS = 60.0


def may_run(scope: Scope, source: Source) -> bool:
    """Whether `scope` may see and start `source`: the whole province sees every source;
    anyone else only sources whose counties are all in their area (a source without
    counties serves the whole province)."""
    if scope.townships is None:
        return True
    return bool(source.counties) and source.counties <= scope.counties


def _configured_sources() -> list[Source]:
    if not configured():
        return []
    try:
        return load_sources()
    except CentralError as e:
        raise ApplicationError(str(e), code="central_config", status_code=500) from e


def source_list(*, scope: Scope) -> list[Source]:
    """The configured Central sources `scope` may run (none when not configured)."""
    return [s for s in _configured_sources() if may_run(scope, s)]


def _source(name: str, scope: Scope) -> Source:
    sources = _configured_sources()
    if not sources:
        raise ApplicationError("No ODK Central sources are configured.", code="not_configured")
    # a source outside the area is answered exactly as an unknown one
    try:
        return find_source(source_list(scope=scope), name)
    except CentralError:
        known = ", ".join(s.name for s in source_list(scope=scope)) or "none in your area"
        raise ApplicationError(
            f"no Central source named {name!r} (yours: {known})", code="unknown_source"
        ) from None


def sync_start(*, scope: Scope, source_name: str) -> dict[str, Any]:
    """Start a run of one source `scope` may run; 409 when that source is already syncing."""
    source = _source(source_name, scope)
    username = scope.username
    state = cradle_db("state")
    run_id = runs.new_run_id()
    try:
        lease = acquire(state, source.name, run_id, ttl=START_LEASE_SECONDS)
    except SourceBusy as e:
        current = holder(state, source.name) or {}
        raise ApplicationError(
            str(e), code="sync_running", status_code=409, extra={"run": current.get("owner")}
        ) from e
    record = runs.create_run(state, source.name, run_id, requested_by=username)
    try:
        _spawn(source, run_id)
    except OSError as e:
        runs.fail_run(state, run_id, f"could not start the sync process: {e}")
        lease.release()
        raise ApplicationError(
            "The sync process could not be started.", code="spawn_failed", status_code=500
        ) from e
    return runs.effective(record)


def _spawn(source: Source, run_id: str) -> None:
    """`cradle sync central` as a detached process on this server's databases and files;
    its output goes to a log file named after the run."""
    couch = settings.COUCHDB
    env = {
        **os.environ,
        "COUCHDB_URL": couch["URL"],
        "COUCHDB_USER": couch["USER"],
        "COUCHDB_PASSWORD": couch["PASSWORD"],
        "COUCHDB_DB_PREFIX": couch["DB_PREFIX"],
        "CRADLE_FORMS_DIR": str(settings.FORMS_BUILD_DIR),
        "CRADLE_CENTRAL_CONFIG": str(config_path()),
    }
    logs = Path(settings.DATA_DIR) / "sync-runs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{run_id}.log", "ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command, no shell
            command_argv("--source", source.name, "--run-id", run_id),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            close_fds=True,
        )
    # Reap the child when it ends, so a finished run never lingers as a zombie process.
    threading.Thread(target=process.wait, name=f"sync-{run_id}", daemon=True).start()
    log.info("started sync run %s of %s (pid %d)", run_id, source.name, process.pid)


def sync_run_get(*, scope: Scope, run_id: str) -> dict[str, Any] | None:
    """The run, or None when missing or of a source `scope` may not run (the same answer)."""
    record = runs.get_run(cradle_db("state"), run_id)
    if record is None or not _run_visible(scope, record):
        return None
    return runs.effective(record)


def _run_visible(scope: Scope, record: dict[str, Any]) -> bool:
    if scope.townships is None:
        return True
    return record.get("source") in {s.name for s in source_list(scope=scope)}


def sync_run_list(
    *, scope: Scope, source: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest runs of the sources `scope` may run, newest first."""
    names = None if scope.townships is None else {s.name for s in source_list(scope=scope)}
    if source is not None:
        names = {source} if names is None or source in names else set()
    found = runs.list_runs(cradle_db("state"), sources=names, limit=limit)
    return [runs.effective(r) for r in found]
