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


DEMO_PASSWORD = "cradle-demo"  # noqa: S105 - development logins, refused in production
DEMO_ARGS = ["generate", "--couch", "--counties", "2", "--scale", "0.25", "--edits", "0.01"]


def ensure_demo() -> list[str]:
    """Synthetic data for the first two counties (only into an empty database) and one
    demo login per role, so a fresh `make run` shows something real."""
    if settings.PRODUCTION:
        raise ValueError("demo data is not loaded when CRADLE_ENV=production")
    from forms.registry import load_registry
    from forms.synthetic import demo_group
    from server.accounts.services import user_create
    from server.core.couch import cradle_db

    lines = []
    submissions = cradle_db("submissions")
    stored = submissions.find({"type": "submission"}, fields=["_id"], limit=1).docs
    if stored:
        lines.append("demo data: CouchDB already holds submissions, nothing loaded")
    else:
        demo_group.main(DEMO_ARGS, standalone_mode=False)
        lines.append("demo data: loaded (synthetic, first two counties)")
    townships = load_registry().townships.sort_values("township_code")
    county, township = townships.iloc[0]["county_code"], townships.iloc[0]["township_code"]
    logins = [
        ("demo_worker", "health_worker", [township]),
        ("demo_supervisor", "supervisor", [county]),
        ("demo_analyst", "analyst", []),
    ]
    users = get_user_model()
    for username, role, areas in logins:
        if not users.objects.filter(username=username).exists():
            user_create(username=username, password=DEMO_PASSWORD, role=role, areas=areas)
        lines.append(f"demo login: {username} / {DEMO_PASSWORD} ({role} {' '.join(areas)})")
    return lines
