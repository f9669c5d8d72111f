"""Things `cradle setup` does once per installation."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

DEV_ADMIN_USERNAME = "admin"
DEV_ADMIN_PASSWORD = "cradle-admin"  # noqa: S105 - development login, refused in production


def ensure_dev_admin() -> tuple[str, str, bool]:
    """Create the development superuser if missing; never in production."""
    if settings.PRODUCTION:
        raise ValueError("the development admin login is not created when CRADLE_ENV=production")
    users = get_user_model()
    user, created = users.objects.get_or_create(
        username=DEV_ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_password(DEV_ADMIN_PASSWORD)
        user.save()
    return DEV_ADMIN_USERNAME, DEV_ADMIN_PASSWORD, created
