"""The `cradle` command line (also `python -m cradle`)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from cradle import __version__


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    os.environ.setdefault("CRADLE_LOG_LEVEL", "WARNING")  # a CLI speaks in one-line errors
    import django

    django.setup()


def one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn Cradle's own errors into one readable line and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from django.core.exceptions import ImproperlyConfigured

        from sync.errors import SyncError

        try:
            return func(*args, **kwargs)
        except (SyncError, ImproperlyConfigured, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


class LazyGroup(click.Group):
    """A group whose domain subcommands are imported only when named, so that
    `cradle sync central` does not pay for pandas and pyxform at every start."""

    #: name -> "module:attribute" of the click command
    LAZY = {
        "coverage": "analytics.cli:coverage_command",
        "demo": "forms.synthetic:demo_group",
        "forms": "forms.build:forms_group",
        "registry": "forms.registry:registry_group",
        "users": "server.accounts.cli:users_group",
        "sync": "sync.central.cli:sync_group",
        "replicate": "sync.central.cli:replicate_group",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.LAZY:
            return super().get_command(ctx, name)
        module, attribute = self.LAZY[name].split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), self.LAZY[name]
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="cradle")
def cli() -> None:
    """Cradle: field data backend for newborn visits, nutrition packs and immunization.

    Example: cradle couch check
    """


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, type=int, help="threads per worker")
@click.option("--daemon", is_flag=True, help="detach and write --pid-file")
@click.option("--pid-file", type=click.Path(dir_okay=False), help="where the master's PID goes")
@click.option("--log-file", type=click.Path(dir_okay=False), help="error and access log file")
@one_line_errors
def serve(
    host: str,
    port: int,
    workers: int,
    threads: int,
    daemon: bool,
    pid_file: str | None,
    log_file: str | None,
) -> None:
    """Serve Cradle with gunicorn, as in production.

    `X-Forwarded-Proto` is believed only from DJANGO_TRUSTED_PROXIES, and only when
    DJANGO_BEHIND_TLS_PROXY is on (gunicorn's own default would believe any local client).

    Example: cradle serve --port 8000 --workers 4
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    conf = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    args = [
        sys.executable, "-m", "gunicorn", "server.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
        "--timeout", "120", "--graceful-timeout", "20",
        "--forwarded-allow-ips", ",".join(conf.TRUSTED_PROXIES),
    ]  # fmt: skip
    if daemon:
        args.append("--daemon")
    if pid_file:
        args += ["--pid", pid_file]
    if log_file:
        args += ["--error-logfile", log_file, "--access-logfile", log_file]
    os.execv(sys.executable, args)  # noqa: S606 - replaces this process with gunicorn


@cli.command()
@click.option("--dev-admin", is_flag=True, help="also create the development admin login")
@click.option(
    "--demo",
    is_flag=True,
    help="load synthetic demo data (or finish an interrupted load) and demo logins",
)
@one_line_errors
def setup(dev_admin: bool, demo: bool) -> None:
    """Migrate Django's tables and create Cradle's CouchDB databases and indexes.

    Example: cradle setup --dev-admin
    """
    _django()
    from django.core.management import call_command

    from server.core.bootstrap import ensure_dev_admin
    from server.core.couch import get_couch
    from sync.schema import ensure_schema

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.conf import settings

    for status in ensure_schema(get_couch(), settings.COUCHDB["DB_PREFIX"]):
        click.echo(f"  {status.name}: ready")
    if dev_admin:
        username, password, created = ensure_dev_admin()
        click.echo(f"  admin login: {username} / {password} ({'created' if created else 'exists'})")
    if demo:
        from server.core.bootstrap import ensure_demo

        def progress(done: int, total: int) -> None:
            click.echo(f"\r  demo data: {done:,}/{total:,}", nl=False, err=True)

        lines = ensure_demo(progress=progress)
        click.echo("", err=True)
        for line in lines:
            click.echo(f"  {line}")


@cli.group()
def couch() -> None:
    """Inspect and prepare the CouchDB server."""


@couch.command("check")
@one_line_errors
def couch_check() -> None:
    """Connect, print the server version and whether Cradle's databases and indexes exist.

    Example: COUCHDB_URL=http://127.0.0.1:5984 cradle couch check
    """
    _django()
    from django.conf import settings

    from server.core.couch import get_couch
    from sync.schema import check_schema

    client = get_couch()
    info = client.server_info()
    client.session()  # proves the credentials before anything else is reported
    vendor = (info.get("vendor") or {}).get("name", "CouchDB")
    click.echo(f"server: {client.settings.url} ({vendor} {info.get('version')})")
    dbs = client.all_dbs()
    click.echo(f"databases: {len(dbs)} ({', '.join(dbs[:12])}{', ...' if len(dbs) > 12 else ''})")
    ready = True
    for status in check_schema(client, settings.COUCHDB["DB_PREFIX"]):
        if not status.exists:
            state = "missing"
        elif status.missing_indexes:
            state = f"missing indexes: {', '.join(status.missing_indexes)}"
        else:
            state = f"ready, {status.doc_count} documents"
        ready = ready and status.ready
        click.echo(f"  {status.name}: {state}")
    if not ready:
        click.echo("Cradle's databases are not all ready: run `cradle setup`.")
        sys.exit(3)


@cli.group()
def index() -> None:
    """The local indexes kept from CouchDB's changes feed, and CouchDB's own views."""


@index.command("refresh")
@click.option("--rebuild", is_flag=True, help="forget the local indexes and read the feed anew")
@one_line_errors
def index_refresh(rebuild: bool) -> None:
    """Bring the children register, the submission listings and the versions view up to
    date, so that the first tablet or person after an upgrade or a bulk load does not
    wait for them. Safe to interrupt: run it again and it goes on from where it stopped.

    Example: cradle index refresh --rebuild
    """
    _django()
    from server.core.couch import cradle_db
    from server.due.register import refresh_register
    from server.submissions.selectors import refresh_listings
    from sync.ingest.versions import refresh_version_index

    def shown(name: str) -> Callable[[int, int | None], None]:
        def progress(done: int, total: int | None) -> None:
            of = f"/{total:,}" if total else ""
            click.echo(f"\r  {name}: {done:,}{of} changes read", nl=False, err=True)

        return progress

    result = refresh_register(rebuild=rebuild, progress=shown("children register"))
    click.echo("", err=True)
    click.echo(f"  children register: {result.rows:,} changes applied in {result.seconds:.1f} s")
    results = refresh_listings(
        rebuild=rebuild,
        progress=lambda name, done, total: shown(name.replace("_", " "))(done, total),
    )
    click.echo("", err=True)
    for name, listing in results.items():
        label = name.replace("_", " ")
        click.echo(f"  {label}: {listing.rows:,} changes applied in {listing.seconds:.1f} s")
    refresh_version_index(cradle_db("submissions"), lambda line: click.echo(f"  {line}"))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    """Run a Django management command.

    Example: cradle manage createsuperuser
    """
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cradle manage", *args])


def main() -> None:
    cli(prog_name="cradle")
