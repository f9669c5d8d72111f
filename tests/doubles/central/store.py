"""Central's rules for changing the double's state; everything runs under `Store.lock`."""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from tests.doubles.central import problems
from tests.doubles.central.clock import Clock, to_us
from tests.doubles.central.model import (
    Actor,
    Blob,
    Form,
    FormDef,
    Project,
    Session,
    Submission,
    Version,
    new_token,
)
from tests.doubles.central.xforms import (
    Instance,
    binary_names,
    parse_instance,
    parse_xform,
    values_json,
)

REVIEW_STATES = (None, "hasIssues", "edited", "rejected", "approved")
DEFAULT_SUBMITTER = "collector"
_TOKEN = re.compile(r"^[A-Za-z0-9!$]{64}$")


When = datetime | date | int | None


@dataclass
class Incoming:
    """A submission version on its way in."""

    raw: bytes
    instance: Instance
    actor: Actor
    device_id: str | None
    user_agent: str | None
    files: dict[str, Blob]

    @cached_property
    def instance_id(self) -> str:
        return self.instance.instance_id or str(uuid.uuid4())


class Store:
    def __init__(self, clock: Clock, session_ttl_us: int) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.session_ttl_us = session_ttl_us
        self.actors: dict[int, Actor] = {}
        self.users: dict[str, Actor] = {}
        self.sessions: dict[str, Session] = {}
        self.projects: dict[int, Project] = {}
        self._ids = {"actor": 0, "project": 0, "form": 0, "submission": 0}

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def now(self, at: When = None) -> int:
        if at is None:
            return self.clock.now_us()
        return at if isinstance(at, int) else to_us(at)

    # -- actors and sessions ---------------------------------------------------------

    def add_user(
        self,
        email: str,
        password: str,
        display_name: str | None = None,
        projects: list[int] | None = None,
    ) -> Actor:
        if email in self.users:
            raise problems.uniqueness_violation(["email", "deleted"], [email, "false"], "users")
        actor = Actor(
            self._next("actor"),
            "user",
            display_name or email,
            self.now(),
            email=email,
            password=password,
            projects=None if projects is None else frozenset(projects),
        )
        self.actors[actor.id] = self.users[email] = actor
        return actor

    def add_app_user(self, project_id: int, display_name: str, token: str | None = None) -> Actor:
        project = self.project(project_id)
        actor = Actor(
            self._next("actor"),
            "field_key",
            display_name,
            self.now(),
            token=token or new_token(),
            project_id=project.id,
        )
        self.actors[actor.id] = actor
        project.app_users.append(actor)
        return actor

    def check_password(self, email: str, password: str) -> Actor:
        user = self.users.get(email)
        if user is None or not secrets.compare_digest(
            (user.password or "").encode(), password.encode()
        ):
            raise problems.authentication_failed()
        return user

    def login(self, email: str, password: str) -> Session:
        user = self.check_password(email, password)
        created = self.now()
        session = Session(new_token(), user, created, created + self.session_ttl_us, new_token())
        self.sessions[session.token] = session
        return session

    def session(self, token: str) -> Session:
        session = self.sessions.get(token)
        if session is None or session.expires_us <= self.clock.peek_us():
            raise problems.authentication_failed()
        return session

    def app_user(self, token: str) -> Actor:
        if not _TOKEN.match(token):
            raise problems.authentication_failed()
        for project in self.projects.values():
            for actor in project.app_users:
                if actor.token == token:
                    return actor
        raise problems.insufficient_rights()

    def submitter(self, project: Project, name: str | None) -> Actor:
        """The actor called `name` (email or display name); a new app user otherwise."""
        wanted = name or DEFAULT_SUBMITTER
        if wanted in self.users:
            return self.users[wanted]
        for actor in [*project.app_users, *self.users.values()]:
            if actor.display_name == wanted:
                return actor
        return self.add_app_user(project.id, wanted)

    # -- projects and forms ----------------------------------------------------------

    def add_project(self, name: str, description: str | None = None) -> Project:
        project = Project(self._next("project"), name, description, self.now())
        self.projects[project.id] = project
        return project

    def project(self, project_id: int | str, actor: Actor | None = None) -> Project:
        try:
            project = self.projects.get(int(project_id))
        except ValueError:
            project = None
        if project is None:
            raise problems.not_found()
        if actor is not None and not actor.can_see(project.id):
            raise problems.insufficient_rights()
        return project

    def add_form(self, project_id: int, xml: bytes, at: When = None) -> Form:
        project = self.project(project_id)
        info = parse_xform(xml)
        form_def = FormDef(info, xml, self.now(at))
        form = project.forms.get(info.xml_form_id)
        if form is None:
            form = Form(
                self._next("form"), project.id, info.xml_form_id, [form_def], form_def.created_us
            )
            project.forms[form.xml_form_id] = form
            return form
        if form.def_for(info.version) is not None:
            raise problems.version_uniqueness_violation(info.xml_form_id, info.version)
        form.defs.append(form_def)
        form.updated_us = form_def.created_us
        for sub in form.ordered:
            form.touch(sub, values=True)
        return form

    # -- submissions -----------------------------------------------------------------

    def _version(
        self, form_def: FormDef, new: Incoming, at: int, carried: dict[str, Blob | None]
    ) -> Version:
        names = binary_names(form_def.info.index, new.instance.root)
        attachments = {name: new.files.get(name) or carried.get(name) for name in names}
        return Version(
            new.instance_id,
            new.raw,
            new.instance.instance_name,
            new.actor,
            new.device_id,
            new.user_agent,
            at,
            attachments,
        )

    def _create(self, form: Form, form_def: FormDef, new: Incoming, at: When) -> Submission:
        now = self.now(at)
        version = self._version(form_def, new, now, {})
        sub = Submission(
            self._next("submission"),
            new.instance_id,
            new.actor,
            new.device_id,
            new.user_agent,
            now,
            form_def.version,
            [version],
        )
        sub.values_cache = values_json(form.current.info.fields, new.instance.root, sub.instance_id)
        form.insert(sub)
        return sub

    def _edit(
        self, form: Form, sub: Submission, form_def: FormDef, new: Incoming, at: When
    ) -> Submission:
        if new.instance_id in form.by_version:
            raise problems.uniqueness_violation("instanceID", new.instance_id, "submission_defs")
        now = self.now(at)
        sub.versions.append(self._version(form_def, new, now, sub.current.attachments))
        sub.review_state = "edited"
        sub.updated_us = now
        form.by_version[new.instance_id] = sub
        form.touch(sub)
        sub.values_cache = values_json(form.current.info.fields, new.instance.root, sub.instance_id)
        return sub

    def _top_up(self, form: Form, sub: Submission, files: dict[str, Blob]) -> Submission:
        names = [name for name in files if name in sub.current.attachments]
        for name in names:
            sub.current.attachments[name] = files[name]
        if names:
            form.touch(sub)
        return sub

    def _resolve(
        self,
        project: Project,
        raw: bytes,
        url_form_id: str | None,
    ) -> tuple[Form, FormDef, Instance]:
        instance = parse_instance(raw)
        form = project.form(url_form_id or instance.xml_form_id)
        form_def = form.def_for(instance.version)
        if form_def is None:
            raise problems.form_version_not_found(instance.version)
        if url_form_id is not None and instance.xml_form_id != url_form_id:
            raise problems.unexpected_value(
                "form id", instance.xml_form_id, "did not match the form ID in the URL"
            )
        return form, form_def, instance

    def receive(
        self,
        project: Project,
        raw: bytes,
        files: dict[str, Blob],
        actor: Actor,
        *,
        form_id: str | None = None,
        device_id: str | None = None,
        user_agent: str | None = None,
        at: When = None,
    ) -> Submission:
        """A submission through the OpenRosa route, with Central's duplicate/edit rules."""
        form, form_def, instance = self._resolve(project, raw, form_id)
        new = Incoming(raw, instance, actor, device_id, user_agent, files)
        iid, deprecated = new.instance_id, instance.deprecated_id
        if deprecated is not None:
            owner = form.by_version.get(deprecated)
            if owner is None or owner.deleted_us is not None:
                raise problems.deprecated_id_not_found(deprecated)
            if owner.current.instance_id == deprecated:
                return self._edit(form, owner, form_def, new, at)
            usurper = form.by_version.get(iid)
            if (
                usurper is None
                or usurper.deleted_us is not None
                or (usurper.current.instance_id != iid)
            ):
                raise problems.deprecating_old_submission(deprecated)
            if raw != usurper.current.xml:
                raise problems.xml_conflict()
            return self._top_up(form, usurper, files)
        extant = form.by_version.get(iid)
        if extant is not None and extant.deleted_us is not None:
            if extant.instance_id == iid:
                raise problems.duplicate_submission()
            raise problems.uniqueness_violation("instanceID", iid, "submission_defs")
        if extant is not None:
            if extant.current.instance_id != iid:
                problem = problems.deprecating_old_submission("undefined")
                problem.details = {"instanceId": iid}
                raise problem
            if raw != extant.current.xml:
                raise problems.xml_conflict()
            return self._top_up(form, extant, files)
        return self._create(form, form_def, new, at)

    def create(
        self,
        project: Project,
        form_id: str,
        raw: bytes,
        actor: Actor,
        *,
        device_id: str | None = None,
        user_agent: str | None = None,
        at: When = None,
    ) -> Submission:
        """`POST .../submissions`: any existing instanceID is a 409.3."""
        form, form_def, instance = self._resolve(project, raw, form_id)
        iid = instance.instance_id or str(uuid.uuid4())
        if iid in form.by_root:
            raise problems.uniqueness_violation(
                ["formId", "instanceId", "draft"], [str(form.id), iid, "f"], "submissions"
            )
        if iid in form.by_version:
            raise problems.uniqueness_violation("instanceID", iid, "submission_defs")
        return self._create(
            form, form_def, Incoming(raw, instance, actor, device_id, user_agent, {}), at
        )

    def replace(
        self,
        project: Project,
        form_id: str,
        instance_id: str,
        raw: bytes,
        actor: Actor,
        *,
        user_agent: str | None = None,
        at: When = None,
    ) -> Submission:
        """`PUT .../submissions/{id}`: an edit whose deprecatedID must name the current version."""
        instance = parse_instance(raw)
        if instance.xml_form_id != form_id:
            raise problems.unexpected_value(
                "form id", instance.xml_form_id, "did not match the form ID in the URL"
            )
        if instance.deprecated_id is None:
            raise problems.expected_deprecation()
        form = project.form(form_id)
        sub = form.live(instance_id)
        if sub.current.instance_id != instance.deprecated_id:
            raise problems.deprecating_old_submission(instance.deprecated_id)
        form_def = form.def_for(instance.version)
        if form_def is None:
            raise problems.form_version_not_found(instance.version)
        new = Incoming(raw, instance, actor, None, user_agent, {})
        return self._edit(form, sub, form_def, new, at)

    def review(
        self, form: Form, instance_id: str, state: str | None, at: When = None
    ) -> Submission:
        sub = form.live(instance_id)
        if state not in REVIEW_STATES:
            raise problems.unexpected_value("reviewState", state, "not a recognized review state")
        sub.review_state = state
        sub.updated_us = self.now(at)
        form.touch(sub)
        return sub

    def delete(self, form: Form, instance_id: str, at: When = None) -> Submission:
        sub = form.live(instance_id)
        sub.deleted_us = self.now(at)
        form.touch(sub)
        return sub

    def restore(self, form: Form, instance_id: str) -> Submission:
        sub = form.by_root.get(instance_id)
        if sub is None or sub.deleted_us is None:
            raise problems.not_found()
        sub.deleted_us = None
        form.touch(sub)
        return sub

    def attach(self, form: Form, instance_id: str, name: str, blob: Blob) -> None:
        sub = form.live(instance_id)
        if name not in sub.current.attachments:
            raise problems.not_found()
        sub.current.attachments[name] = blob
        form.touch(sub)
