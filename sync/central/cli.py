"""`cradle sync central` and `cradle replicate ...`.

Both groups are added to the `cradle` command; `python -m sync.central` runs them too.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from django.core.exceptions import ImproperlyConfigured

from sync.errors import (
    CentralError,
    CentralUnavailable,
    CouchUnavailable,
    SourceBusy,
    SyncError,
)

log = logging.getLogger(__name__)

SUMMARY_KEYS = ("fetched", "new", "updated", "unchanged", "quarantined", "deleted")
# Errors a command reports as one line: Cradle's own, bad files, bad settings.
_ONE_LINE: tuple[type[Exception], ...] = (SyncError, ValueError, OSError, ImproperlyConfigured)


def _django() -> None:
    from cradle.cli import _django as setup_django

    setup_django()


def cradle_argv(*args: str) -> list[str]:
    """How to start `cradle ARGS` (sync or replicate) as a process: `python -m cradle`
    when the `cradle` command has these groups, else this package's own entry point."""
    from cradle.cli import cli

    if "sync" in cli.list_commands(click.Context(cli)):
        return [sys.executable, "-m", "cradle", *args]
    return [sys.executable, "-m", "sync.central", *args]


def command_argv(*args: str) -> list[str]:
    """The process that runs `cradle sync central ARGS`."""
    return cradle_argv("sync", "central", *args)


def summary_line(name: str, counts: dict[str, int], seconds: float) -> str:
    parts = ", ".join(f"{key} {counts.get(key, 0)}" for key in SUMMARY_KEYS)
    reviews = counts.get("review_changes", 0)
    return f"{name}: {parts}, review changes {reviews} ({seconds:.1f} s)"


# -- progress -----------------------------------------------------------------------------


class PlainProgress:
    """Log lines (for pipes, cron and the API's log file), at most one every `every` s."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._last = 0.0
        self._phase = ""

    def __call__(self, progress: Any, counts: Any) -> None:
        now = time.monotonic()
        changed = progress.phase != self._phase
        if not changed and now - self._last < self.every:
            return
        self._phase, self._last = progress.phase, now
        total = f" of {progress.total}" if progress.total is not None else ""
        click.echo(
            f"{progress.source}/{progress.form}: {progress.phase}, fetched {progress.fetched}"
            f"{total}, written {progress.written}{total}",
            err=True,
        )


class RichProgress:
    """A progress bar on a terminal: fetched, written, rate and time remaining."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, progress: Any, counts: Any) -> None:
        if not progress.form:
            return
        for what, done in (("fetched", progress.fetched), ("written", progress.written)):
            key = (progress.form, what)
            if key not in self.tasks:
                self.tasks[key] = self.bar.add_task(f"{progress.source}/{progress.form} {what}")
            self.bar.update(self.tasks[key], completed=done, total=progress.total)


@contextmanager
def _reporter() -> Iterator[Callable[[Any, Any], None]]:
    if sys.stderr.isatty():
        with RichProgress() as bar:
            yield bar
    else:
        yield PlainProgress()


# -- sync -----------------------------------------------------------------------------------


@click.group(name="sync")
def sync_group() -> None:
    """Pull submissions into Cradle from other systems.

    Example: cradle sync central --source guangxi
    """


@sync_group.command("central")
@click.option("--source", "source_name", help="one configured source (default: all)")
@click.option("--watch", type=float, metavar="SECONDS", help="keep pulling at this interval")
@click.option("--attachments", is_flag=True, help="also fetch submission attachments")
@click.option("--run-id", help="the run record to use (the API creates it)")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="sources file (default: $CRADLE_CENTRAL_CONFIG)",
)
def central_command(
    source_name: str | None,
    watch: float | None,
    attachments: bool,
    run_id: str | None,
    config: Path | None,
) -> None:
    """Pull new, edited, reviewed and deleted submissions from ODK Central.

    Incremental and safe to interrupt: each form resumes from its checkpoint.

    Example: CRADLE_CENTRAL_CONFIG=central.toml cradle sync central --source guangxi
    """
    if watch is not None and watch <= 0:
        raise click.UsageError("--watch needs a positive number of seconds")
    if run_id and not source_name:
        raise click.UsageError("--run-id needs --source")
    try:
        _django()
        from sync.central.config import find_source, load_sources

        sources = load_sources(config)
        chosen = [find_source(sources, source_name)] if source_name else sources
        while True:
            for source in chosen:
                _sync_once(source, attachments=attachments, run_id=run_id, watching=bool(watch))
            if watch is None:
                return
            run_id = None  # a run record is used once
            time.sleep(watch)
    except KeyboardInterrupt as e:
        raise click.ClickException("interrupted") from e
    except _ONE_LINE as e:
        message = " ".join(str(e).split()) or type(e).__name__
        if run_id and source_name:
            _close_run(source_name, run_id, message)
        raise click.ClickException(message) from e


def _close_run(source_name: str, run_id: str, message: str) -> None:
    """A run the API started failed before it could run: close its record, free its lock."""
    from server.core.couch import cradle_db
    from sync.central.lock import acquire
    from sync.central.runs import fail_run

    try:
        state = cradle_db("state")
        fail_run(state, run_id, message)
        acquire(state, source_name, run_id).release()
    except _ONE_LINE:
        pass  # best effort: the record and the lock also expire by themselves


def _sync_once(source: Any, *, attachments: bool, run_id: str | None, watching: bool) -> None:
    from server.core.couch import cradle_db
    from server.core.ingest import get_ingestor
    from sync.central.pull import run_sync

    try:
        with _reporter() as report:
            result = run_sync(
                source,
                get_ingestor(),
                cradle_db("state"),
                run_id=run_id,
                attachments=attachments,
                on_progress=report,
                audit_db=cradle_db("audit"),
            )
    except (SourceBusy, CouchUnavailable, CentralError) as e:
        if watching and isinstance(e, (SourceBusy, CouchUnavailable, CentralUnavailable)):
            click.echo(f"{source.name}: {' '.join(str(e).split())} (trying again later)", err=True)
            return
        raise
    click.echo(summary_line(source.name, result.counts.as_dict(), result.seconds))


# -- replicate ------------------------------------------------------------------------------


def _codes(value: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (value or "").split(",") if c.strip())


@click.group(name="replicate")
def replicate_group() -> None:
    """Township replicas on a supervisor's CouchDB, kept by CouchDB's own replication.

    Example: cradle replicate setup --target http://admin:pw@127.0.0.1:5985 --townships 450123101
    """


def _central_db(key: str = "submissions") -> Any:
    from server.core.couch import cradle_db

    return cradle_db(key)


def _local_db(target: str, default_name: str) -> Any:
    from sync.central.replicate import split_db_url
    from sync.couch import CouchClient

    settings, name = split_db_url(target)
    return CouchClient(settings).db(name or default_name)


@replicate_group.command("setup")
@click.option("--target", required=True, help="the local CouchDB (server or database URL)")
@click.option("--townships", help="comma-separated township codes")
@click.option("--county", "counties", help="comma-separated county codes")
@click.option("--continuous", is_flag=True, help="keep replicating (replication documents)")
@click.option("--name", help="replica name (default: from the area)")
@click.option("--central-url", help="the central database URL as the local server reaches it")
def replicate_setup(
    target: str,
    townships: str | None,
    counties: str | None,
    continuous: bool,
    name: str | None,
    central_url: str | None,
) -> None:
    """Replicate one area's documents down to a local CouchDB, and local ones up.

    Example: cradle replicate setup --target http://admin:pw@laptop:5984 --county 450123
    --continuous
    """
    try:
        _django()
        from sync.central.replicate import Area, Replica, setup

        area = Area(_codes(townships), _codes(counties))
        central = _central_db()
        local = _local_db(target, central.name)
        replica = Replica(
            name=name or area.key,
            area=area,
            central_url=central_url or central.client.db_url(central.name),
            local_url=local.client.db_url(local.name),
        )
        results = setup(central, local, replica, continuous=continuous)
    except _ONE_LINE as e:
        raise click.ClickException(" ".join(str(e).split())) from e
    mode = "continuous" if continuous else "one-shot"
    click.echo(f"replica {replica.name}: {mode}, {local.name} on {local.client.settings.url}")
    for direction, result in zip(("down", "up"), results, strict=True):
        written = result.get("docs_written")
        if written is None:
            written = (result.get("history") or [{}])[0].get("docs_written")
        detail = f"{written} documents written" if written is not None else "started"
        click.echo(f"  {direction}: {detail}")


@replicate_group.command("status")
@click.option("--target", required=True, help="the local CouchDB (server or database URL)")
def replicate_status(target: str) -> None:
    """Show the replications on a local CouchDB and conflicts waiting on either side.

    Example: cradle replicate status --target http://admin:pw@laptop:5984
    """
    try:
        _django()
        from sync.central.conflicts import find_conflicts
        from sync.central.replicate import status

        central = _central_db()
        local = _local_db(target, central.name)
        items = status(local.client)
        if not items:
            click.echo(f"no Cradle replications on {local.client.settings.url}")
        for item in items:
            area = ", ".join(f"{k}={v}" for k, v in item.area.items() if v)
            written = "" if item.docs_written is None else f", {item.docs_written} written"
            error = f", error: {item.error}" if item.error else ""
            click.echo(f"{item.id}: {item.state} ({area}){written}{error}")
        for label, db in (("central", central), ("local", local)):
            if db.exists():
                click.echo(f"{label} {db.name}: {len(find_conflicts(db))} conflicted documents")
    except _ONE_LINE as e:
        raise click.ClickException(" ".join(str(e).split())) from e


@replicate_group.command("resolve")
@click.option("--target", help="resolve on this local CouchDB instead of the central one")
def replicate_resolve(target: str | None) -> None:
    """Resolve conflicting revisions: latest updated_at wins (ties: higher _rev), losers
    kept in the winner's history and in the audit trail.

    Example: cradle replicate resolve
    """
    try:
        _django()
        from sync.central.conflicts import resolve_conflicts

        central = _central_db()
        db = _local_db(target, central.name) if target else central
        done = resolve_conflicts(db, audit=_central_db("audit"))
    except _ONE_LINE as e:
        raise click.ClickException(" ".join(str(e).split())) from e
    for item in done:
        click.echo(f"{item.doc_id}: kept {item.winner_rev}, removed {', '.join(item.loser_revs)}")
    click.echo(f"{db.name}: {len(done)} conflicts resolved")


@click.group()
def main_group() -> None:
    """Cradle's sync commands (also available as `cradle sync` and `cradle replicate`)."""


main_group.add_command(sync_group)
main_group.add_command(replicate_group)


def main() -> None:
    main_group(prog_name="python -m sync.central")
