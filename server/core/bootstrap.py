"""Things `cradle setup` does once per installation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model

if TYPE_CHECKING:  # the generator pulls in numpy and pandas: imported only to load
    from forms.synthetic.options import Options

#: `progress(done, total)`, called as demo submissions are loaded.
Progress = Callable[[int, int], None]

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
#: The id, in `cradle_state`, of the record of a demo load: "loading" until it ends.
DEMO_MARKER = "demo-load"


def demo_options() -> Options:
    """What `make run` loads: the first two counties, a quarter of their births, 1% edits."""
    from forms.synthetic.options import Options

    return Options(counties=2, scale=0.25, edits=0.01)


def ensure_demo(options: Options | None = None, progress: Progress | None = None) -> list[str]:
    """Synthetic data for the first two counties and one demo login per role, so a fresh
    `make run` shows something real. An interrupted load is resumed: the data is the same
    every time and writes are idempotent by instanceID, so loading again adds what is
    missing. `progress(done, total)` is called as submissions are loaded."""
    if settings.PRODUCTION:
        raise ValueError("demo data is not loaded when CRADLE_ENV=production")
    from forms.registry import load_registry
    from server.accounts.services import user_create

    lines = [_load_demo(options or demo_options(), progress)]
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


def _load_demo(options: Options, progress: Progress | None) -> str:
    """Load (or finish loading) the demo data; one line saying what happened.

    A database holding submissions but no record of a demo load is someone's real data,
    and nothing is added to it.
    """
    from forms.registry import load_registry
    from forms.synthetic.generate import generate
    from forms.synthetic.sink import build_ingestor
    from server.core.couch import cradle_db, get_couch
    from sync.schema import ensure_schema

    prefix = settings.COUCHDB["DB_PREFIX"]
    ensure_schema(get_couch(), prefix)
    state = cradle_db("state")
    marker = state.get(DEMO_MARKER)
    if marker is not None and marker.get("state") == "complete":
        return "demo data: already loaded"
    if marker is not None and marker.get("options") != options.as_json():
        return "demo data: an interrupted load had other options, nothing loaded"
    if marker is None:
        stored = cradle_db("submissions").find({"type": "submission"}, fields=["_id"], limit=1)
        if stored.docs:
            return "demo data: CouchDB already holds submissions, nothing loaded"
        marker = {"_id": DEMO_MARKER, "type": "demo_load", "options": options.as_json()}
        marker["_rev"] = state.put({**marker, "state": "loading"})
        verb = "loaded"
    else:
        verb = "resumed an interrupted load and loaded what was missing"
    registry = load_registry()
    ingestor = build_ingestor(get_couch(), prefix, settings.FORMS_BUILD_DIR, registry)
    result = generate(options, ingestor=ingestor, registry=registry, progress=progress)
    assert result.couch is not None
    state.put({**marker, "state": "complete", "results": dict(result.couch.results)})
    return f"demo data: {verb} ({result.couch.line().removeprefix('couch: ')})"
