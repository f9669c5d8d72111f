"""Central's HTTP API (the part sync clients and ODK Collect use), routed by hand.

Every route takes the store lock for its whole run, so each answer is consistent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from email.utils import formatdate

from tests.doubles.central import odata, problems, shapes
from tests.doubles.central.edmx import edmx
from tests.doubles.central.store import Actor, Blob, Form, Project, Store
from tests.doubles.central.wire import Request, Response, json_response, multipart

OPENROSA_CREATED = (
    '\n  <OpenRosaResponse xmlns="http://openrosa.org/http/response" items="0">\n'
    '    <message nature="">full submission upload was successful!</message>\n'
    "  </OpenRosaResponse>"
)
SUCCESS = {"success": True}


def _is_https(req: Request) -> bool:
    return (req.header("X-Forwarded-Proto") or "").lower() == "https"


def authenticate(store: Store, req: Request) -> Actor:
    """Central's auth handler: Bearer session tokens; Basic only over HTTPS."""
    header = req.header("Authorization")
    if header and header.startswith("Bearer "):
        return store.session(header[7:]).actor
    if header and header.startswith("Basic "):
        if not _is_https(req):
            raise problems.https_only()
        try:
            email, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise problems.authentication_failed() from e
        return store.check_password(email, password)
    if header or not req.header("Cookie"):
        raise problems.authentication_failed()
    raise problems.https_only()


def handle(store: Store, req: Request, base_url: str) -> Response:
    segs = req.segments
    if not segs or segs[0] != "v1":
        raise problems.missing_api_version()
    rest = segs[1:]
    if not rest:
        raise problems.not_found()
    if rest[-1:] == ["submission"] and (
        (len(rest) == 3 and rest[0] == "projects")
        or (len(rest) == 5 and rest[0] == "key" and rest[2] == "projects")
    ):
        return openrosa_submission(store, req, rest)
    with store.lock:
        if rest == ["sessions"] and req.method == "POST":
            return login(store, req)
        actor = authenticate(store, req)
        return _route(store, req, base_url, actor, rest)


def login(store: Store, req: Request) -> Response:
    body = req.json()
    body = body if isinstance(body, dict) else {}
    email, password = body.get("email"), body.get("password")
    if not email or not password:
        raise problems.missing_parameters(
            ["email", "password"], {"email": email, "password": password}
        )
    return json_response(shapes.session(store.login(email, password)))


def _route(store: Store, req: Request, base: str, actor: Actor, rest: list[str]) -> Response:
    method, n = req.method, len(rest)
    extended = (req.header("X-Extended-Metadata") or "").lower() == "true"
    if rest[0] == "sessions" and n == 2 and method == "DELETE":
        token = (req.header("Authorization") or "")[7:] if rest[1] == "current" else rest[1]
        session = store.sessions.get(token)
        if session is None or session.actor is not actor:
            raise problems.insufficient_rights()
        del store.sessions[token]
        return json_response(SUCCESS)
    if rest == ["users", "current"] and method == "GET":
        return json_response(shapes.actor(actor))
    if rest == ["projects"] and method == "GET":
        visible = [p for p in store.projects.values() if actor.can_see(p.id)]
        return json_response([shapes.project(p, extended) for p in visible])
    if rest[0] != "projects" or n < 2:
        raise problems.not_found()
    project = store.project(rest[1], actor)
    if n == 2 and method == "GET":
        return json_response(shapes.project(project, extended))
    if n == 3 and rest[2] == "forms" and method == "GET":
        return json_response([shapes.form(f, extended) for f in project.forms.values()])
    if n < 4 or rest[2] != "forms":
        raise problems.not_found()
    name = rest[3]
    if name.endswith(".svc") and method == "GET":
        return odata_route(req, base, project.form(name[:-4]), rest[4:])
    if name.endswith(".xml") and n == 4 and method == "GET" and name[:-4] in project.forms:
        return Response(200, project.form(name[:-4]).current.xml, "application/xml")
    form = project.form(name)
    if n == 4 and method == "GET":
        return json_response(shapes.form(form, extended))
    if n >= 5 and rest[4] == "submissions":
        return submissions_route(store, req, actor, project, form, rest[5:])
    raise problems.not_found()


def odata_route(req: Request, base: str, form: Form, tail: list[str]) -> Response:
    headers = {"OData-Version": "4.0"}
    accept = req.header("Accept")
    if tail == ["$metadata"]:
        odata.check_params(req.params, accept, "xml")
        return Response(200, edmx(form).encode(), "application/xml", headers)
    odata.check_params(req.params, accept)
    if not tail:
        service_path = req.raw_path.rstrip("/")
        body = odata.service_document(base, service_path)
        response = json_response(body, headers=headers)
        response.content_type = "application/json; odata.metadata=minimal"
        return response
    if tail == ["Submissions"]:
        page = odata.submissions_page(form, req.params, base, req.raw_path, req.raw_query)
        return Response(200, page, "application/json", headers)
    if len(tail) == 1 and tail[0].startswith("Submissions(") and tail[0].endswith(")"):
        row = odata.single_row(form, tail[0][12:-1], req.params, base, req.raw_path)
        return Response(200, row, "application/json", headers)
    raise problems.not_found()


def _content_type(req: Request, name: str) -> str:
    return req.header("Content-Type") or mimetypes.guess_type(name)[0] or "application/octet-stream"


def submissions_route(
    store: Store, req: Request, actor: Actor, project: Project, form: Form, tail: list[str]
) -> Response:
    method, user_agent = req.method, req.header("User-Agent")
    if not tail:
        if method == "POST":
            sub = store.create(
                project,
                form.xml_form_id,
                req.body,
                actor,
                device_id=req.params.get("deviceID"),
                user_agent=user_agent,
            )
            return json_response(shapes.submission(sub))
        if method == "GET":
            deleted = (req.params.get("deleted") or "").lower() == "true"
            subs = [s for s in reversed(form.ordered) if (s.deleted_us is not None) == deleted]
            offset = odata.js_int(req.params.get("offset")) or 0
            limit = odata.js_int(req.params.get("limit"))
            subs = subs[offset:] if limit is None else subs[offset : offset + limit]
            return json_response([shapes.submission(s) for s in subs])
        raise problems.not_found()
    key = tail[0]
    if len(tail) == 1 and key.endswith(".xml") and method == "GET":
        return Response(200, form.live(key[:-4]).current.xml, "application/xml")
    if len(tail) == 1:
        if method == "GET":
            return json_response(shapes.submission(form.live(key)))
        if method == "PATCH":
            body = req.json()
            if not isinstance(body, dict) or "reviewState" not in body:
                return json_response(shapes.submission(form.live(key)))
            return json_response(shapes.submission(store.review(form, key, body["reviewState"])))
        if method == "PUT":
            sub = store.replace(
                project, form.xml_form_id, key, req.body, actor, user_agent=user_agent
            )
            return json_response(shapes.submission(sub))
        if method == "DELETE":
            store.delete(form, key)
            return json_response(SUCCESS)
    if tail[1:] == ["restore"] and method == "POST":
        store.restore(form, key)
        return json_response(SUCCESS)
    if tail[1:] == ["attachments"] and method == "GET":
        return json_response(shapes.attachments(form.live(key)))
    if len(tail) == 3 and tail[1] == "attachments":
        name = tail[2]
        if method == "POST":
            store.attach(form, key, name, Blob(req.body, _content_type(req, name)))
            return json_response(SUCCESS)
        if method == "GET":
            blob = form.live(key).current.attachments.get(name)
            if blob is None:
                raise problems.not_found()
            inline = blob.content_type in ("image/jpeg", "image/png", "image/gif")
            disposition = "inline" if inline else "attachment"
            etag = hashlib.md5(blob.data, usedforsecurity=False).hexdigest()
            headers = {
                "Content-Disposition": f'{disposition}; filename="{name}"',
                "ETag": f'"{etag}"',
            }
            return Response(200, blob.data, blob.content_type, headers)
    raise problems.not_found()


def _openrosa_headers() -> dict[str, str]:
    return {
        "X-OpenRosa-Version": "1.0",
        "X-OpenRosa-Accept-Content-Length": "100000000",
        "Content-Language": "en",
        "Date": formatdate(usegmt=True),
    }


def openrosa_error(problem: problems.Problem) -> Response:
    message = (
        problem.message.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )
    body = (
        '\n  <OpenRosaResponse xmlns="http://openrosa.org/http/response" items="0">\n'
        f'    <message nature="error">{message}</message>\n  </OpenRosaResponse>'
    )
    return Response(problem.status, body.encode(), "text/xml; charset=utf-8", _openrosa_headers())


def openrosa_submission(store: Store, req: Request, rest: list[str]) -> Response:
    """`[HEAD|GET|POST] /v1[/key/{token}]/projects/{p}/submission` (errors in OpenRosa XML)."""
    try:
        with store.lock:
            actor = store.app_user(rest[1]) if rest[0] == "key" else authenticate(store, req)
            version = req.header("X-OpenRosa-Version")
            if version != "1.0":
                raise problems.invalid_header("X-OpenRosa-Version", version)
            project = store.project(rest[-2])
            if req.method in ("HEAD", "GET"):
                return Response(204, b"", None, _openrosa_headers())
            if req.method != "POST":
                raise problems.not_found()
            parts = multipart(req.body, req.header("Content-Type"))
            files = [p for p in parts if p.filename is not None]
            xml = next((p for p in files if p.name == "xml_submission_file"), None)
            if xml is None:
                raise problems.missing_multipart_field("xml_submission_file")
            if not actor.can_see(project.id):
                raise problems.authentication_failed()
            blobs = {
                p.name: Blob(
                    p.data,
                    p.content_type or mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                )
                for p in files
                if p.name != "xml_submission_file"
            }
            store.receive(
                project,
                xml.data,
                blobs,
                actor,
                device_id=req.params.get("deviceID"),
                user_agent=req.header("User-Agent"),
            )
            return Response(
                201, OPENROSA_CREATED.encode(), "text/xml; charset=utf-8", _openrosa_headers()
            )
    except problems.Problem as problem:
        return openrosa_error(problem)
