"""`cradle demo generate`: synthetic field data with known truth, to a folder or CouchDB."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from forms.catalog import CatalogError
from forms.registry import RegistryError, load_registry
from forms.synthetic.generate import Progress, Result, forms_dir_default, generate
from forms.synthetic.instances import TemplateError
from forms.synthetic.options import (
    DEFAULT_SEED,
    DEFAULT_UNTIL,
    DEFAULT_YEARS,
    Options,
    SyntheticError,
)
from forms.synthetic.sink import build_ingestor, client_from_env
from sync.errors import SyncError


@click.group("demo")
def demo_group() -> None:
    """Synthetic demo data with known truth, for the demo, the tests and the benchmarks.

    Example: cradle demo generate --counties 2 --out .data/demo
    """


def _split(values: tuple[str, ...]) -> list[str]:
    return [part for value in values for part in value.replace(",", " ").split()]


def _years(parts: list[str]) -> tuple[int, ...]:
    """Years from `2025`, `2024-2026`; sorted, without repeats."""
    years: set[int] = set()
    for part in parts:
        first, _, last = part.partition("-")
        years.update(range(int(first), int(last or first) + 1))
    return tuple(sorted(years))


@demo_group.command("generate")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="write submissions.jsonl, truth/*.parquet and manifest.json here",
)
@click.option("--gzip", "compress", is_flag=True, help="write submissions.jsonl.gz instead")
@click.option(
    "--couch",
    is_flag=True,
    help="load through the ingestion core into CouchDB (COUCHDB_URL, COUCHDB_USER, "
    "COUCHDB_PASSWORD, COUCHDB_DB_PREFIX)",
)
@click.option(
    "--forms",
    "forms_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="built XForms [default: $CRADLE_FORMS_DIR or build/forms]",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option("--counties", type=int, help="only the first N counties by code")
@click.option(
    "--townships",
    multiple=True,
    metavar="CODE",
    help="only these townships (repeat, or separate with commas)",
)
@click.option(
    "--years",
    multiple=True,
    metavar="YEAR",
    help=f"birth years: repeat, separate with commas, or a range 2024-2026 [default: "
    f"{' '.join(map(str, DEFAULT_YEARS))}]",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=str(DEFAULT_UNTIL),
    show_default=True,
    help="evaluation date: nothing is dated later",
)
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="births as a share of the registry's expected births",
)
@click.option(
    "--children",
    type=int,
    help="N children in total, spread like the expected births (instead of --scale)",
)
@click.option(
    "--duplicates",
    type=float,
    default=0.0,
    show_default=True,
    help="share of submissions resent later with identical bytes",
)
@click.option(
    "--edits",
    type=float,
    default=0.0,
    show_default=True,
    help="share of submissions corrected later (new instanceID, deprecatedID)",
)
@click.option(
    "--late",
    type=float,
    default=0.0,
    show_default=True,
    help="share of submissions arriving weeks after collection",
)
@click.option(
    "--invalid",
    type=float,
    default=0.0,
    show_default=True,
    help="share of submissions the server must refuse (with known reasons)",
)
def generate_command(
    out_dir: Path | None,
    compress: bool,
    couch: bool,
    forms_dir: Path | None,
    seed: int,
    counties: int | None,
    townships: tuple[str, ...],
    years: tuple[str, ...],
    until: datetime,
    scale: float,
    children: int | None,
    duplicates: float,
    edits: float,
    late: float,
    invalid: float,
) -> None:
    """Generate births, visits and their submissions with known truth.

    Example: cradle demo generate --counties 2 --years 2025,2026 --out .data/demo --edits 0.02
    """
    if out_dir is None and not couch:
        raise click.UsageError("give --out DIR, --couch, or both")
    try:
        year_list = _years(_split(years)) or DEFAULT_YEARS
    except ValueError as e:
        raise click.BadParameter(
            f"not a year or a range of years: {e}", param_hint="--years"
        ) from e
    options = Options(
        seed=seed,
        counties=counties,
        townships=tuple(_split(townships)),
        years=year_list,
        until=until.date(),
        scale=scale,
        children=children,
        duplicates=duplicates,
        edits=edits,
        late=late,
        invalid=invalid,
    )
    forms_dir = forms_dir or forms_dir_default()
    client = None
    try:
        registry = load_registry()
        ingestor = None
        if couch:
            client, prefix = client_from_env()
            ingestor = build_ingestor(client, prefix, forms_dir, registry)
        with _progress() as progress:
            result = generate(
                options,
                out_dir=out_dir,
                compress=compress,
                ingestor=ingestor,
                forms_dir=forms_dir,
                registry=registry,
                progress=progress,
            )
    except (SyntheticError, TemplateError, CatalogError, RegistryError, SyncError, OSError) as e:
        raise click.ClickException(str(e)) from e
    finally:
        if client is not None:
            client.close()
    _report(result, out_dir)


def _report(result: Result, out_dir: Path | None) -> None:
    manifest = result.manifest
    counts = manifest["counts"]
    per_form = ", ".join(f"{k} {v['deliveries']}" for k, v in counts["forms"].items())
    seconds = result.seconds
    rate = counts["deliveries"] / seconds if seconds else 0
    click.echo(
        f"generated {counts['deliveries']} submissions ({per_form}) for {counts['children']} "
        f"children in {counts['townships']} townships in {seconds:.1f} s ({rate:,.0f}/s)"
    )
    if out_dir is not None:
        click.echo(f"wrote {out_dir}")
    if result.couch is not None:
        click.echo(result.couch.line())


@contextmanager
def _progress() -> Iterator[Progress]:
    """A rich progress bar on a terminal, otherwise a plain line every tenth."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("submissions", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update
        return
    shown = [-1]

    def line(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != shown[0]:
            shown[0] = tenth
            click.echo(f"submissions: {done}/{total}", err=True)

    yield line
