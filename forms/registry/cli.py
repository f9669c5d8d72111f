"""``registry`` commands: write the synthetic demo, check a real registry."""

from __future__ import annotations

from pathlib import Path

import click

from forms.registry.demo import DEFAULT_SEED, generate_demo_registry
from forms.registry.load import DEMO_DIR, RegistryFiles, read_registry
from forms.registry.model import Registry, RegistryError


@click.group(name="registry")
def registry_group() -> None:
    """Township registry: townships, boundaries and target populations.

    Example: cradle registry check path/to/registry
    """


@registry_group.command("generate")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="random seed")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEMO_DIR,
    show_default=True,
    help="directory to write",
)
def generate(seed: int, out: Path) -> None:
    """Write the synthetic demo registry (the same seed gives the same bytes).

    Example: cradle registry generate --seed 2015 --out /tmp/demo-registry
    """
    try:
        paths = generate_demo_registry(seed=seed, out_dir=out)
    except OSError as e:
        raise click.ClickException(f"{out}: cannot write: {e}") from e
    size = sum(p.stat().st_size for p in paths)
    click.echo(f"wrote {len(paths)} files ({size / 1024:.0f} KiB) to {out} (seed {seed})")


@registry_group.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Validate a registry: one directory, or its files (townships CSV, boundaries, targets CSV).

    Prints one summary line; on the first bad file prints its first problem and exits 1.

    Examples: cradle registry check official/

    cradle registry check townships.csv boundaries.gpkg targets.csv
    """
    try:
        files = RegistryFiles.from_paths(paths)
        registry = read_registry(files)
    except RegistryError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"ok: {files.townships.parent}: {summary(registry)}")


def summary(registry: Registry) -> str:
    """One line: counts of counties and townships, target years, synthetic or not."""
    years = registry.targets["year"]
    span = f"{years.min()}-{years.max()}" if len(years) else "none"
    kind = "SYNTHETIC demo" if registry.synthetic else "not marked synthetic"
    return (
        f"{len(registry.counties())} counties, {len(registry.townships)} townships, "
        f"targets {span} ({len(registry.targets)} rows), {kind}"
    )
