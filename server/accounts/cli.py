"""`cradle users ...`: manage logins, roles and areas from the command line."""

from __future__ import annotations

import click


def _setup() -> None:
    from cradle.cli import _django

    _django()


def _password(value: str | None, from_stdin: bool) -> str:
    if from_stdin:
        return click.get_text_stream("stdin").readline().rstrip("\n")
    if value:
        return value
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _run(action):
    from django.contrib.auth import get_user_model

    from server.core.errors import ApplicationError

    try:
        return action()
    except ApplicationError as exc:
        raise click.ClickException(exc.message) from exc
    except get_user_model().DoesNotExist as exc:
        raise click.ClickException("no such user") from exc


@click.group("users")
def users_group() -> None:
    """Health workers, supervisors, analysts and admins.

    Example: cradle users create lina --role health_worker --area 450123101
    """


@users_group.command("create")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice(["health_worker", "supervisor", "analyst", "admin"])
)
@click.option("--area", "areas", multiple=True, help="county (6 digits) or township (9 digits)")
@click.option("--password", help="the password (prefer --password-stdin or the prompt)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create(
    username: str, role: str, areas: tuple[str, ...], password: str | None, password_stdin: bool
) -> None:
    """Create a login with a role and areas.

    Example: cradle users create lina --role health_worker --area 450123101 --password-stdin
    """
    _setup()
    from server.accounts.services import user_create

    secret = _password(password, password_stdin)
    _run(lambda: user_create(username=username, password=secret, role=role, areas=list(areas)))
    click.echo(f"created {username} ({role}{': ' + ', '.join(areas) if areas else ''})")


@users_group.command("set-role")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice(["health_worker", "supervisor", "analyst", "admin"])
)
@click.option("--area", "areas", multiple=True, help="replaces the user's areas when given")
def set_role(username: str, role: str, areas: tuple[str, ...]) -> None:
    """Change a user's role (and areas).

    Example: cradle users set-role lina --role supervisor --area 450123
    """
    _setup()
    from server.accounts.services import user_set_role

    profile = _run(lambda: user_set_role(username=username, role=role, areas=list(areas) or None))
    click.echo(f"{username}: {profile.role} {', '.join(profile.areas)}")


@users_group.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def set_password(username: str, password_stdin: bool) -> None:
    """Set a user's password (also the one ODK Collect uses).

    Example: cradle users set-password lina
    """
    _setup()
    from server.accounts.services import user_set_password

    secret = _password(None, password_stdin)
    _run(lambda: user_set_password(username=username, password=secret))
    click.echo(f"password of {username} set")


@users_group.command("deactivate")
@click.argument("username")
def deactivate(username: str) -> None:
    """Stop a login working (Collect, pages and API); its API tokens are revoked.

    Example: cradle users deactivate lina
    """
    _setup()
    from server.accounts.services import user_set_active

    revoked = _run(lambda: user_set_active(username=username, active=False))
    click.echo(f"{username} deactivated ({revoked} API token{'s' if revoked != 1 else ''} revoked)")


@users_group.command("activate")
@click.argument("username")
def activate(username: str) -> None:
    """Let a deactivated login work again (with no API token: make a new one in the admin).

    Example: cradle users activate lina
    """
    _setup()
    from server.accounts.services import user_set_active

    _run(lambda: user_set_active(username=username, active=True))
    click.echo(f"{username} activated")


@users_group.command("list")
def list_users() -> None:
    """Every user with role and areas.

    Example: cradle users list
    """
    _setup()
    from django.contrib.auth import get_user_model

    for user in get_user_model().objects.order_by("username").select_related("cradle_profile"):
        profile = getattr(user, "cradle_profile", None)
        role = "admin (superuser)" if user.is_superuser else (profile.role if profile else "-")
        areas = ", ".join(profile.areas) if profile else ""
        inactive = "" if user.is_active else "\t(deactivated)"
        click.echo(f"{user.username}\t{role}\t{areas}{inactive}")
