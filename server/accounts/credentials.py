"""What a password change or a deactivation does to a user's other credentials, and the
password strength rule every way of setting a password goes through."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import translation

from server.core.errors import ApplicationError


def check_password_strength(password: str, user: AbstractBaseUser | None = None) -> None:
    """Django's configured password validators (length, common, numeric, like the
    username); `ApplicationError` with every reason on one line when it is too weak."""
    with translation.override("en"):  # the command line speaks English
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            reasons = " ".join(exc.messages)
            raise ApplicationError(f"password refused: {reasons}", code="weak_password") from exc


def revoke_api_tokens(user: AbstractBaseUser) -> int:
    """Delete the user's API tokens (DRF `Token`); how many there were. A new password or
    a deactivated account must not leave an old token working."""
    from rest_framework.authtoken.models import Token

    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


class ApiTokenRevoker:
    """A password "validator" that never refuses anything: Django calls `password_changed`
    on every configured validator whenever a password is set and saved (CLI, admin, the
    password change page), so every way of changing a password revokes the API tokens,
    as it already ends the sessions (their hash depends on the password)."""

    def validate(self, password: str, user: AbstractBaseUser | None = None) -> None:
        return None

    def password_changed(self, password: str, user: AbstractBaseUser | None = None) -> None:
        if user is not None and user.pk is not None:
            revoke_api_tokens(user)

    def get_help_text(self) -> str:
        return ""
