"""OpenRosa 1.0 endpoints as ODK Collect uses them: form list, download, manifest, media,
and submissions. Thin: authentication here, every decision in the ingestion core."""

from __future__ import annotations

import base64
import binascii
import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from analytics.errors import AnalyticsError
from forms.catalog import md5_hex
from forms.media import CHILDREN_CSV
from server.accounts import digest
from server.accounts.scope import Scope, scope_for
from server.core.audit import audit_event
from server.core.ingest import form_catalog, get_ingestor, local_today
from server.core.lockout import lockout_response
from server.due.register import RETRY_AFTER, RegisterNotReady
from server.due.services import form_media
from server.openrosa.responses import (
    NS_FORMLIST,
    NS_MANIFEST,
    element,
    message_response,
    with_openrosa_headers,
    xml_response,
)
from server.openrosa.uploads import MULTIPART_ERRORS, XML_FIELD, multipart_problem, report_for
from sync.errors import CouchUnavailable, SyncError
from sync.ingest.problems import Problem
from sync.ingest.store import Attachment, Incoming, Outcome

log = logging.getLogger(__name__)

ACCEPTED_MESSAGE = "表单已成功提交。 Form received successfully."
UNAVAILABLE_MESSAGE = (
    "服务器暂时无法保存，请稍后重新发送。 "
    "The server cannot store forms right now; send again later."
)


# -- authentication ----------------------------------------------------------------------


def _authenticate(request: HttpRequest) -> tuple[object | None, bool]:
    """(user, stale_nonce) from Digest, or from Basic when the request came over HTTPS."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "digest":
        claimed = digest.parse_header(value).get("username", "")
        if claimed and AxesProxyHandler.is_locked(request, {"username": claimed}):
            raise LockedOut(claimed)
        result = digest.verify(value, request.method or "GET", request.get_full_path())
        if result.user is None and not result.stale and claimed:
            user_login_failed.send(__name__, credentials={"username": claimed}, request=request)
        return result.user, result.stale
    if scheme.lower() == "basic" and request.is_secure():
        try:
            username, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        return authenticate(request, username=username, password=password), False
    return None, False


def _challenge(request: HttpRequest, stale: bool = False) -> HttpResponse:
    response = message_response("请登录。 Please log in.", 401)
    # One header may carry several challenges; Basic only where the password is encrypted.
    offered = [digest.challenge(stale=stale)]
    if request.is_secure():
        offered.append(f'Basic realm="{digest.realm()}"')
    response["WWW-Authenticate"] = ", ".join(offered)
    return response


class LockedOut(Exception):
    """Too many failed logins for this username from this address."""


def _openrosa_scope(request: HttpRequest) -> tuple[Scope | None, HttpResponse | None]:
    try:
        user, stale = _authenticate(request)
    except LockedOut:
        return None, lockout_response(request)
    if user is None:
        return None, _challenge(request, stale)
    scope = scope_for(user)
    if not scope.can_submit:
        return None, message_response(
            "您没有提交表单的权限。 You are not allowed to fill these forms.", 403
        )
    return scope, None


# -- forms -------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def form_list(request: HttpRequest) -> HttpResponse:
    _, refusal = _openrosa_scope(request)
    if refusal is not None:
        return refusal
    root = ET.Element("xforms", xmlns=NS_FORMLIST)
    for form in form_catalog().forms.values():
        node = ET.SubElement(root, "xform")
        element(node, "formID", form.form_id)
        element(node, "name", form.title)
        element(node, "version", form.version)
        element(node, "hash", f"md5:{form.md5}")
        element(
            node,
            "downloadUrl",
            request.build_absolute_uri(reverse("openrosa-form", args=[form.form_id])),
        )
        if form.media:
            url = reverse("openrosa-manifest", args=[form.form_id])
            element(node, "manifestUrl", request.build_absolute_uri(url))
    return xml_response(root)


def _form_or_404(form_id: str):
    form = form_catalog().get(form_id)
    if form is None:
        raise Http404(form_id)
    return form


@require_http_methods(["GET", "HEAD"])
def form_download(request: HttpRequest, form_id: str) -> HttpResponse:
    _, refusal = _openrosa_scope(request)
    if refusal is not None:
        return refusal
    form = _form_or_404(form_id)
    response = FileResponse(form.xml_path.open("rb"), content_type="text/xml; charset=utf-8")
    return with_openrosa_headers(response)


def _media_unavailable(what: str, exc: Exception) -> HttpResponse:
    log.warning("%s: cannot generate media: %s", what, exc)
    response = message_response(UNAVAILABLE_MESSAGE, 503)
    response["Retry-After"] = str(RETRY_AFTER)
    return response


@require_http_methods(["GET", "HEAD"])
def manifest(request: HttpRequest, form_id: str) -> HttpResponse:
    scope, refusal = _openrosa_scope(request)
    if refusal is not None:
        return refusal
    form = _form_or_404(form_id)
    try:
        generated = form_media(form, scope=scope, on=local_today())
    except (AnalyticsError, SyncError, RegisterNotReady) as exc:
        return _media_unavailable(f"manifest of {form_id}", exc)
    hashes = {media.name: media.md5 for media in form.media}
    hashes.update({name: md5_hex(content) for name, content in generated.items()})
    root = ET.Element("manifest", xmlns=NS_MANIFEST)
    for name in sorted(hashes):
        node = ET.SubElement(root, "mediaFile")
        element(node, "filename", name)
        element(node, "hash", f"md5:{hashes[name]}")
        url = reverse("openrosa-media", args=[form.form_id, name])
        element(node, "downloadUrl", request.build_absolute_uri(url))
    return xml_response(root)


@require_http_methods(["GET", "HEAD"])
def media_file(request: HttpRequest, form_id: str, filename: str) -> HttpResponse:
    """A form's media file; only the children list is made per user (and only it reads
    the register), the registry lists are the built files."""
    scope, refusal = _openrosa_scope(request)
    if refusal is not None:
        return refusal
    form = _form_or_404(form_id)
    content_type = "text/csv; charset=utf-8" if filename.endswith(".csv") else None
    if filename == CHILDREN_CSV:
        try:
            generated = form_media(form, scope=scope, on=local_today())
        except (AnalyticsError, SyncError, RegisterNotReady) as exc:
            return _media_unavailable(f"media {form_id}/{filename}", exc)
        if filename in generated:
            response = HttpResponse(generated[filename], content_type=content_type)
            return with_openrosa_headers(response)
    media = form.media_file(filename)
    if media is None:
        raise Http404(filename)
    response = FileResponse(media.path.open("rb"), content_type=content_type)
    return with_openrosa_headers(response)


# -- submissions -------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def submission(request: HttpRequest) -> HttpResponse:
    scope, refusal = _openrosa_scope(request)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        response = with_openrosa_headers(HttpResponse(status=204))
        response["X-OpenRosa-Accept-Content-Length"] = str(
            settings.CRADLE_LIMITS["MAX_REQUEST_BYTES"]
        )
        return response
    try:
        return _answer(_receive(request, scope), request, scope)
    except CouchUnavailable as exc:
        log.warning("submission not stored, CouchDB unavailable: %s", exc)
        response = message_response(UNAVAILABLE_MESSAGE, 503)
        response["Retry-After"] = "60"
        return response


def _receive(request: HttpRequest, scope: Scope) -> Outcome:
    ingestor = get_ingestor()
    received = datetime.now(UTC)
    base = {
        "source": "openrosa",
        "submitter": scope.username,
        "received_at": received,
        "remote_addr": request.META.get("REMOTE_ADDR"),
    }
    content_type = request.content_type or ""
    if content_type != "multipart/form-data":
        head = request.read(settings.CRADLE_LIMITS["MAX_XML_BYTES"])
        incoming = Incoming(xml=head, **base)
        problem = Problem("wrong_content_type", detail=content_type[:60] or "none")
        return ingestor.quarantine(incoming, [problem], None)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.CRADLE_LIMITS["MAX_REQUEST_BYTES"]:
        head = request.read(settings.CRADLE_LIMITS["MAX_XML_BYTES"])
        incoming = Incoming(xml=head, truncated_from=declared, **base)
        problem = Problem("too_large", detail=f"{declared} bytes")
        return ingestor.quarantine(incoming, [problem], None)
    try:
        files = request.FILES
    except MULTIPART_ERRORS as exc:
        return _refuse(ingestor, request, base, multipart_problem(exc))
    report = report_for(request)
    if report.stopped:
        detail = f"more than {settings.CRADLE_LIMITS['MAX_REQUEST_BYTES']} bytes"
        return _refuse(ingestor, request, base, Problem("too_large", detail=detail))
    if report.xml_parts > 1:
        return _several_instances(ingestor, files, report, base, scope)
    xml_file = files.get(XML_FIELD)
    if xml_file is None and report.xml_oversize:
        incoming = Incoming(xml=report.xml_head, truncated_from=report.xml_seen, **base)
        return ingestor.ingest(incoming, allowed_townships=scope.townships)
    if xml_file is None:
        return _refuse(ingestor, request, base, Problem("missing_xml"))
    xml = xml_file.read()
    incoming = Incoming(xml=xml, attachments=_attachments(files), **base)
    if report.oversize:
        name, size = next(iter(report.oversize.items()))
        detail = f"{size} > {settings.CRADLE_LIMITS['MAX_ATTACHMENT_BYTES']} bytes"
        problem = Problem("attachment_too_large", field=name, detail=detail)
        return ingestor.quarantine(incoming, [problem], None)
    return ingestor.ingest(incoming, allowed_townships=scope.townships)


def _attachments(files) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(f.name, f.read(), f.content_type or "application/octet-stream")
        for name, f in files.items()
        if name != XML_FIELD
    )


def _several_instances(ingestor, files, report, base: dict, scope: Scope) -> Outcome:
    """A post with more than one xml_submission_file: the ingestion core refuses it
    (which one would be meant?) and keeps every part."""
    xmls = [f.read() for f in files.getlist(XML_FIELD)]
    truncated = report.xml_seen if report.xml_oversize else None
    if report.xml_oversize:  # the first part was too large: its start stands for it
        xmls.insert(0, report.xml_head)
    incoming = Incoming(
        xml=xmls[0],
        more_xml=tuple(xmls[1:]),
        attachments=_attachments(files),
        truncated_from=truncated,
        **base,
    )
    return ingestor.ingest(incoming, allowed_townships=scope.townships)


def _refuse(ingestor, request: HttpRequest, base: dict, problem: Problem) -> Outcome:
    """Quarantine what could be read of a refused post: the XML's start and every part."""
    report = report_for(request)
    try:
        parts = tuple(
            Attachment(f.name, f.read(), f.content_type or "application/octet-stream")
            for name, f in request.FILES.items()
            if name != XML_FIELD
        )
    except MULTIPART_ERRORS:
        parts = ()
    incoming = Incoming(xml=report.xml_head or b"", attachments=parts, **base)
    return ingestor.quarantine(incoming, [problem], None)


def _answer(outcome: Outcome, request: HttpRequest, scope: Scope) -> HttpResponse:
    action = "submission.quarantined" if outcome.quarantine_id else f"submission.{outcome.result}"
    audit_event(
        action,
        actor=scope.username,
        source="openrosa",
        request=request,
        target=outcome.doc_id or outcome.quarantine_id,
        detail={"status": outcome.http_status, "reasons": [p.code for p in outcome.problems]},
        buffered=True,
    )
    if outcome.accepted:
        return message_response(ACCEPTED_MESSAGE, 201)
    text = " ".join(p.bilingual() for p in outcome.problems) or "表单被拒绝。 Form refused."
    return message_response(text, outcome.http_status, nature="error")
