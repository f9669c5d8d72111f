"""Central's REST JSON shapes (central-backend frames and `docs/api.yaml`)."""

from __future__ import annotations

from typing import Any

from tests.doubles.central.clock import iso_ms
from tests.doubles.central.store import Actor, Form, Project, Session, Submission


def actor(a: Actor) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": a.id,
        "type": a.type,
        "displayName": a.display_name,
        "createdAt": iso_ms(a.created_us),
        "updatedAt": None,
        "deletedAt": None,
    }
    if a.type == "user":
        body["email"] = a.email
    else:
        body["projectId"] = a.project_id
    return body


def session(s: Session) -> dict[str, Any]:
    return {
        "token": s.token,
        "csrf": s.csrf,
        "expiresAt": iso_ms(s.expires_us),
        "createdAt": iso_ms(s.created_us),
    }


def _last_submission(forms: list[Form]) -> str | None:
    dates = [form.keys[-1][0] for form in forms if form.keys]
    return iso_ms(max(dates)) if dates else None


def project(p: Project, extended: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "archived": None,
        "keyId": None,
        "createdAt": iso_ms(p.created_us),
        "updatedAt": None,
        "deletedAt": None,
    }
    if extended:
        body.update(
            forms=len(p.forms),
            lastSubmission=_last_submission(list(p.forms.values())),
            appUsers=len(p.app_users),
            datasets=0,
            lastEntity=None,
        )
    return body


def form(f: Form, extended: bool = False) -> dict[str, Any]:
    current = f.current
    body: dict[str, Any] = {
        "projectId": f.project_id,
        "xmlFormId": f.xml_form_id,
        "state": "open",
        "enketoId": None,
        "enketoOnceId": None,
        "createdAt": iso_ms(f.created_us),
        "updatedAt": iso_ms(f.updated_us),
        "webformsEnabled": False,
        "keyId": None,
        "version": current.version,
        "hash": current.digest("md5"),
        "sha": current.digest("sha1"),
        "sha256": current.digest("sha256"),
        "draftToken": None,
        "publishedAt": iso_ms(current.created_us),
        "name": current.info.name,
    }
    if extended:
        live = [s for s in f.ordered if s.deleted_us is None]
        body.update(
            submissions=len(live),
            reviewStates={
                "received": sum(1 for s in live if s.review_state is None),
                "hasIssues": sum(1 for s in live if s.review_state == "hasIssues"),
                "edited": sum(1 for s in live if s.review_state == "edited"),
            },
            lastSubmission=_last_submission([f]),
            excelContentType=None,
            entityRelated=False,
            publicLinks=0,
        )
    return body


def submission(s: Submission) -> dict[str, Any]:
    current = s.current
    return {
        "instanceId": s.instance_id,
        "submitterId": s.submitter.id,
        "deviceId": s.device_id,
        "createdAt": iso_ms(s.created_us),
        "updatedAt": iso_ms(s.updated_us),
        "reviewState": s.review_state,
        "userAgent": s.user_agent,
        "deletedAt": iso_ms(s.deleted_us),
        "currentVersion": {
            "submitterId": current.submitter.id,
            "createdAt": iso_ms(current.created_us),
            "instanceName": current.instance_name,
            "instanceId": current.instance_id,
            "current": True,
            "deviceId": current.device_id,
            "userAgent": current.user_agent,
        },
    }


def attachments(s: Submission) -> list[dict[str, Any]]:
    return [
        {"name": name, "exists": blob is not None}
        for name, blob in sorted(s.current.attachments.items())
    ]
