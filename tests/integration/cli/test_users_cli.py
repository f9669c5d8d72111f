"""`cradle users`: weak passwords are refused in one line with a non-zero exit, and a
deactivated login is shown as such."""

from __future__ import annotations

import pytest

from tests.integration.cli.conftest import cradle

pytestmark = pytest.mark.integration

STRONG = "river-stone-2027"


def test_weak_passwords_are_refused_in_one_line(env: dict[str, str]) -> None:
    create = ("users", "create", "lina", "--role", "health_worker", "--area", "450123101")
    weak = cradle(env, *create, "--password-stdin", stdin="a\n")
    assert weak.returncode == 1
    assert weak.stdout == ""
    assert weak.stderr == (
        "Error: password refused: This password is too short. "
        "It must contain at least 8 characters. This password is too common.\n"
    )
    assert cradle(env, "users", "list").stdout == ""

    created = cradle(env, *create, "--password-stdin", stdin=STRONG + "\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout == "created lina (health_worker: 450123101)\n"

    numeric = cradle(env, "users", "set-password", "lina", "--password-stdin", stdin="20261128\n")
    assert numeric.returncode == 1
    assert numeric.stderr == "Error: password refused: This password is entirely numeric.\n"
    common = cradle(env, "users", "set-password", "lina", "--password-stdin", stdin="password1\n")
    assert common.returncode == 1
    assert common.stderr == "Error: password refused: This password is too common.\n"


def test_deactivate_and_activate(env: dict[str, str]) -> None:
    create = ("users", "create", "lina", "--role", "health_worker", "--area", "450123101")
    assert cradle(env, *create, "--password-stdin", stdin=STRONG + "\n").returncode == 0

    off = cradle(env, "users", "deactivate", "lina")
    assert off.returncode == 0, off.stderr
    assert off.stdout == "lina deactivated (0 API tokens revoked)\n"
    assert cradle(env, "users", "list").stdout == "lina\thealth_worker\t450123101\t(deactivated)\n"

    on = cradle(env, "users", "activate", "lina")
    assert on.stdout == "lina activated\n"
    assert cradle(env, "users", "list").stdout == "lina\thealth_worker\t450123101\n"

    missing = cradle(env, "users", "deactivate", "nobody")
    assert (missing.returncode, missing.stderr) == (1, "Error: no such user\n")
