"""`cradle coverage`: coverage tables, spreadsheets and maps from the command line."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from analytics.outputs import FORMATS
from analytics.periods import PERIOD_HELP
from analytics.source import StageProgress

STAGES = {"submissions": "submissions 表单", "quarantine": "quarantine 拒收"}


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    os.environ.setdefault("CRADLE_LOG_LEVEL", "WARNING")  # a CLI speaks in one-line errors
    import django

    django.setup()


@contextmanager
def _progress(enabled: bool) -> Iterator[StageProgress]:
    """A rich progress bar on a terminal, plain lines otherwise (logs, CI)."""
    if enabled and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("reading {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as bar:
            tasks: dict[str, int] = {}

            def update(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total if total else None)

            yield update
        return
    last: dict[str, float] = {}  # when each stage last printed; silent for the first 5 s

    def line(stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if finished or now - last.setdefault(stage, now) >= 5.0:
            last[stage] = now
            of = f"/{total}" if total else ""
            click.echo(f"reading {STAGES.get(stage, stage)}: {done}{of} changes", err=True)

    yield line


@click.command("coverage")
@click.option("--period", required=True, help=f"Reporting period: {PERIOD_HELP}.")
@click.option("--county", default=None, help="Only this county (6-digit code).")
@click.option(
    "--indicator",
    "indicators",
    multiple=True,
    help="Only these indicators (repeat the option); default: all.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="csv and json: tables; geojson: townships for GIS; xlsx: workbook; png: maps.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (created if missing).",
)
@click.option("--rebuild-cache", is_flag=True, help="Re-read everything from CouchDB first.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def coverage_command(
    period: str,
    county: str | None,
    indicators: tuple[str, ...],
    fmt: str,
    out: Path,
    rebuild_cache: bool,
    quiet: bool,
) -> None:
    """Coverage per township, county and programme for a period, with data quality.

    Reads CouchDB through the local columnar cache (only what changed since the last run),
    then writes the chosen format into OUT.

    Example: cradle coverage --period 2026-Q3 --county 450123 --format xlsx --out reports/
    """
    from analytics.errors import AnalyticsError
    from analytics.outputs import render, write
    from sync.errors import SyncError

    try:
        _django()
        from analytics.service import coverage_report, default_source
        from server.accounts.models import Role
        from server.accounts.scope import Scope

        with _progress(not quiet) as progress:
            report = coverage_report(
                period=period,
                indicators=list(indicators) or None,
                county=county,
                scope=Scope(Role.ANALYST, None, "cli"),
                source=default_source(),
                progress=progress,
                rebuild=rebuild_cache,
            )
        paths = write(render(report, fmt), out)
    except (AnalyticsError, SyncError, PermissionError, OSError) as exc:
        raise click.ClickException(" ".join(str(exc).split())) from exc
    rows = int((report.table["level"] == "township").sum())
    click.echo(
        f"{report.period.label}: {len(report.indicators)} indicators × "
        f"{rows // max(len(report.indicators), 1)} townships; wrote {len(paths)} file(s) to {out}"
    )
    for path in paths:
        click.echo(f"  {path}")
