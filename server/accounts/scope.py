"""The one place that decides what a user may see and do, and where.

Every read and write (OpenRosa, API, pages, exports) asks `scope_for(user)` and goes
through the returned `Scope`; nothing else looks at roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from forms.contract import CONTRACTS
from forms.deidentify import deidentify as deidentify_doc
from server.accounts.models import Role
from server.core.places import registry_places

#: Contract fields that name a person; never shown to analysts, in any output.
PERSONAL_FIELDS: frozenset[str] = frozenset(
    f.name for contract in CONTRACTS.values() for f in contract if f.personal
)


@dataclass(frozen=True)
class Scope:
    role: str | None
    townships: frozenset[str] | None  # None: every township
    username: str = ""
    counties: frozenset[str] = frozenset()  # counties covered whole (for unknown townships)

    # -- what -------------------------------------------------------------------------

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_submit(self) -> bool:
        return self.role in (Role.HEALTH_WORKER, Role.SUPERVISOR, Role.ADMIN)

    @property
    def can_read_submissions(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ANALYST, Role.ADMIN)

    @property
    def can_manage_quarantine(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def can_sync(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def can_see_coverage(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ANALYST, Role.ADMIN)

    @property
    def sees_personal_data(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.HEALTH_WORKER, Role.ADMIN)

    # -- where ------------------------------------------------------------------------

    def allows_township(self, township_code: str | None) -> bool:
        if self.townships is None:
            return True
        return township_code is not None and township_code in self.townships

    def allows_record(self, township_code: str | None, county_code: str | None) -> bool:
        """A possibly invalid record (quarantine): its township, or its whole county."""
        if self.allows_township(township_code):
            return True
        return county_code is not None and county_code in self.counties

    # -- how ---------------------------------------------------------------------------

    def redact(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The document as this user may see it: de-identified for analysts."""
        if self.sees_personal_data:
            return doc
        return deidentify(doc)


def deidentify(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as an analyst may see it (`forms.deidentify`: no names, a pseudonym for
    the child id, age instead of birth date, no place below the township, no device id, no
    attachments), in its data and in every earlier version in its history."""
    return deidentify_doc(doc, key=settings.PSEUDONYM_KEY)


NO_SCOPE = Scope(None, frozenset())


def scope_for(user: AbstractBaseUser | AnonymousUser | None) -> Scope:
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_SCOPE
    if user.is_superuser:
        return Scope(Role.ADMIN, None, user.get_username())
    profile = getattr(user, "cradle_profile", None)
    if profile is None:
        return Scope(None, frozenset(), user.get_username())
    if profile.role in (Role.ANALYST, Role.ADMIN):
        return Scope(profile.role, None, user.get_username())
    counties = frozenset(a for a in profile.areas if len(a) == 6)
    return Scope(profile.role, expand_areas(profile.areas), user.get_username(), counties)


def expand_areas(areas: list[str]) -> frozenset[str]:
    """County codes become all their townships; township codes stay."""
    places = registry_places()
    townships: set[str] = set()
    for code in areas:
        if code in places.county_of_township:
            townships.add(code)
        else:
            townships.update(t for t, c in places.county_of_township.items() if c == code)
    return frozenset(townships)
