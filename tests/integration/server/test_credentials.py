"""API tokens end with a password change or a deactivation (as sessions do), and every way
of setting a password applies Django's password validators."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from server.accounts.models import DigestCredential
from server.accounts.services import user_create, user_set_active, user_set_password
from server.core.couch import cradle_db
from server.core.errors import ApplicationError
from sync.audit import entries
from tests.integration.openrosa.conftest import COUNTY, PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NEW_PASSWORD = "river-stone-2027"


def _api(token: str) -> int:
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/submissions/").status_code


@pytest.fixture
def supervisor(server) -> tuple[object, str]:
    user = user_create(username="sup", password=PASSWORD, role="supervisor", areas=[COUNTY])
    token = Token.objects.create(user=user).key
    assert _api(token) == 200
    return user, token


def test_a_password_change_revokes_api_tokens(supervisor) -> None:
    _, token = supervisor
    user_set_password(username="sup", password=NEW_PASSWORD)
    assert Token.objects.filter(key=token).exists() is False
    assert _api(token) == 401


def test_a_password_change_in_the_admin_revokes_api_tokens(supervisor) -> None:
    user, token = supervisor
    response = _admin().post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    assert _api(token) == 401
    assert Token.objects.filter(user=user).count() == 0


def test_deactivation_revokes_api_tokens_for_good(supervisor) -> None:
    user, token = supervisor
    assert user_set_active(username="sup", active=False) == 1
    assert _api(token) == 401
    assert get_user_model().objects.get(username="sup").is_active is False
    assert user_set_active(username="sup", active=True) == 0
    assert _api(token) == 401  # reactivated, but the old token is gone
    assert _api(Token.objects.create(user=user).key) == 200
    trail = [
        (e["action"], e["target"], e["detail"])
        for e in entries(cradle_db("audit"))
        if e["action"].startswith("user.") and e["action"].endswith("activated")
    ]
    assert trail == [
        ("user.deactivated", "user:sup", {"api_tokens_revoked": 1}),
        ("user.activated", "user:sup", {"api_tokens_revoked": 0}),
    ]


def test_unticking_active_in_the_admin_revokes_api_tokens(supervisor) -> None:
    user, token = supervisor
    response = _admin().post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": "sup",
            "date_joined_0": "2026-11-28",
            "date_joined_1": "10:00:00",
            # is_active left out: the box is unticked
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_active is False
    assert _api(token) == 401
    assert Token.objects.filter(user=user).count() == 0


def _admin() -> Client:
    """A superuser's browser, in English."""
    admin = Client(HTTP_ACCEPT_LANGUAGE="en")
    admin.force_login(get_user_model().objects.create_superuser("root", password="root-pass-2026"))
    return admin


# -- password strength -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("a", "This password is too short. It must contain at least 8 characters."),
        ("20261128", "This password is entirely numeric."),
        ("password123", "This password is too common."),
        ("wanglina-1", "The password is too similar to the username."),
    ],
)
def test_weak_passwords_are_refused_by_the_service(server, password: str, reason: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        user_create(username="wanglina", password=password, role="health_worker")
    assert refused.value.code == "weak_password"
    assert refused.value.message.startswith("password refused: ")
    assert reason in refused.value.message
    assert not get_user_model().objects.filter(username="wanglina").exists()


def test_a_weak_new_password_leaves_the_old_one(supervisor) -> None:
    with pytest.raises(ApplicationError, match="too short"):
        user_set_password(username="sup", password="abc")
    user = get_user_model().objects.get(username="sup")
    assert user.check_password(PASSWORD)
    assert DigestCredential.objects.get(user=user).ha1 != ""
    _, token = supervisor
    assert _api(token) == 200  # nothing changed, so the token still works


def test_the_admin_refuses_weak_passwords(server) -> None:
    admin = _admin()
    added = admin.post(
        "/admin/auth/user/add/",
        {"username": "lina", "password1": "a", "password2": "a", "usable_password": "true"},
    )
    assert added.status_code == 200
    assert "This password is too short." in added.content.decode()
    assert not get_user_model().objects.filter(username="lina").exists()

    root = get_user_model().objects.get(username="root")
    changed = admin.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "12345678", "password2": "12345678", "usable_password": "true"},
    )
    assert changed.status_code == 200
    assert "This password is entirely numeric." in changed.content.decode()
    root.refresh_from_db()
    assert root.check_password("root-pass-2026")
