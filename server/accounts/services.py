"""Creating users, setting passwords, changing roles and areas, and deactivating logins
(used by the CLI and the admin)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from server.accounts.credentials import check_password_strength, revoke_api_tokens
from server.accounts.models import Profile, Role
from server.core.audit import audit_event
from server.core.errors import ApplicationError
from server.core.places import registry_places


def check_areas(areas: list[str]) -> list[str]:
    places = registry_places()
    bad = [a for a in areas if a not in places.counties and a not in places.county_of_township]
    if bad:
        raise ApplicationError(
            f"unknown county or township code: {', '.join(bad)}", code="unknown_area"
        )
    return sorted(set(areas))


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    areas: list[str] | None = None,
    actor: str | None = None,
) -> AbstractBaseUser:
    if role not in Role.values:
        raise ApplicationError(f"role must be one of {', '.join(Role.values)}", code="bad_role")
    users = get_user_model()
    if users.objects.filter(username=username).exists():
        raise ApplicationError(f"user {username} already exists", code="exists", status_code=409)
    user = users(username=username)
    check_password_strength(password, user)
    user.set_password(password)  # set_password, not create_user: records the Digest credential
    user.save()
    profile = Profile.objects.create(user=user, role=role, areas=check_areas(areas or []))
    _audit("user.created", actor, username, profile)
    return user


def _audit(action: str, actor: str | None, username: str, profile: Profile | None) -> None:
    detail = {"role": profile.role, "areas": profile.areas} if profile else {}
    audit_event(action, actor=actor, source="accounts", target=f"user:{username}", detail=detail)


@transaction.atomic
def user_set_role(
    *, username: str, role: str, areas: list[str] | None = None, actor: str | None = None
) -> Profile:
    if role not in Role.values:
        raise ApplicationError(f"role must be one of {', '.join(Role.values)}", code="bad_role")
    user = get_user_model().objects.get(username=username)
    profile, _ = Profile.objects.get_or_create(user=user, defaults={"role": role})
    profile.role = role
    if areas is not None:
        profile.areas = check_areas(areas)
    profile.save()
    _audit("user.role_changed", actor, username, profile)
    return profile


def user_set_password(*, username: str, password: str, actor: str | None = None) -> None:
    """A new password; also the new Digest credential, and every API token is revoked."""
    user = get_user_model().objects.get(username=username)
    check_password_strength(password, user)
    user.set_password(password)
    user.save()  # records the Digest credential, revokes tokens (AUTH_PASSWORD_VALIDATORS)
    _audit("user.password_changed", actor, username, None)


@transaction.atomic
def user_set_active(*, username: str, active: bool, actor: str | None = None) -> int:
    """Let a user log in again, or no longer (Digest, Basic, pages and API alike). A
    deactivation revokes the user's API tokens, so reactivating brings none back; the
    number revoked is returned."""
    user = get_user_model().objects.get(username=username)
    user.is_active = active
    user.save(update_fields=["is_active"])
    revoked = 0 if active else revoke_api_tokens(user)
    audit_event(
        "user.activated" if active else "user.deactivated",
        actor=actor,
        source="accounts",
        target=f"user:{username}",
        detail={"api_tokens_revoked": revoked},
    )
    return revoked
