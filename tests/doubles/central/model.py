"""The double's records: actors, sessions, projects, forms and their submissions.

A form keeps its submissions in one list sorted by (submissionDate, insertion sequence),
the order Central pages in (read backwards: newest first), so a page or a `$skiptoken`
cursor is a bisect, not a sort.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import secrets
from dataclasses import dataclass, field

from tests.doubles.central import problems
from tests.doubles.central.xforms import FormInfo


def new_token() -> str:
    """Central's token alphabet: base64 of 48 random bytes, `/` -> `!`, `+` -> `$`."""
    raw = base64.b64encode(secrets.token_bytes(48)).decode()
    return raw.replace("/", "!").replace("+", "$")


@dataclass(eq=False)
class Actor:
    id: int
    type: str  # "user" (web user) or "field_key" (app user)
    display_name: str
    created_us: int
    email: str | None = None
    password: str | None = None
    token: str | None = None
    project_id: int | None = None
    projects: frozenset[int] | None = None  # a user limited to these projects; None = all

    def can_see(self, project_id: int) -> bool:
        if self.type == "field_key":
            return self.project_id == project_id
        return self.projects is None or project_id in self.projects


@dataclass(eq=False)
class Session:
    token: str
    actor: Actor
    created_us: int
    expires_us: int
    csrf: str


@dataclass(eq=False)
class Blob:
    data: bytes
    content_type: str


@dataclass(eq=False)
class Version:
    instance_id: str
    xml: bytes
    instance_name: str | None
    submitter: Actor
    device_id: str | None
    user_agent: str | None
    created_us: int
    attachments: dict[str, Blob | None]


@dataclass(eq=False)
class Submission:
    seq: int
    instance_id: str  # the first version's instanceID, Central's `__id`
    submitter: Actor
    device_id: str | None
    user_agent: str | None
    created_us: int
    form_version: str
    versions: list[Version]
    updated_us: int | None = None
    deleted_us: int | None = None
    review_state: str | None = None
    values_cache: tuple[bytes, bytes] | None = None  # form values JSON, cut around __id
    row_cache: bytes | None = None  # the whole default OData row

    @property
    def current(self) -> Version:
        return self.versions[-1]

    @property
    def submitter_id(self) -> int:
        return self.submitter.id

    @property
    def key(self) -> tuple[int, int]:
        return (self.created_us, self.seq)


@dataclass(eq=False)
class FormDef:
    info: FormInfo
    xml: bytes
    created_us: int

    @property
    def version(self) -> str:
        return self.info.version

    def digest(self, name: str) -> str:
        return hashlib.new(name, self.xml, usedforsecurity=False).hexdigest()


@dataclass(eq=False)
class Form:
    id: int
    project_id: int
    xml_form_id: str
    defs: list[FormDef]
    created_us: int
    updated_us: int | None = None
    by_root: dict[str, Submission] = field(default_factory=dict)
    by_version: dict[str, Submission] = field(default_factory=dict)
    keys: list[tuple[int, int]] = field(default_factory=list)
    ordered: list[Submission] = field(default_factory=list)
    data_version: int = 0
    count_cache: dict[str | None, tuple[int, int]] = field(default_factory=dict)

    @property
    def current(self) -> FormDef:
        return self.defs[-1]

    def def_for(self, version: str) -> FormDef | None:
        return next((d for d in reversed(self.defs) if d.version == version), None)

    def insert(self, sub: Submission) -> None:
        index = bisect.bisect_left(self.keys, sub.key)
        self.keys.insert(index, sub.key)
        self.ordered.insert(index, sub)
        self.by_root[sub.instance_id] = sub
        self.by_version[sub.instance_id] = sub
        self.data_version += 1

    def touch(self, sub: Submission, values: bool = False) -> None:
        """Forget what was served for `sub` (its values too when its XML changed)."""
        sub.row_cache = None
        if values:
            sub.values_cache = None
        self.data_version += 1

    def live(self, instance_id: str) -> Submission:
        sub = self.by_root.get(instance_id)
        if sub is None or sub.deleted_us is not None:
            raise problems.not_found()
        return sub


@dataclass(eq=False)
class Project:
    id: int
    name: str
    description: str | None
    created_us: int
    forms: dict[str, Form] = field(default_factory=dict)
    app_users: list[Actor] = field(default_factory=list)

    def form(self, xml_form_id: str) -> Form:
        form = self.forms.get(xml_form_id)
        if form is None:
            raise problems.not_found()
        return form
