"""Answers for errors that no view handled.

CouchDB out of reach (`CouchUnavailable`, or an error raised from one) is a 503 with
`Retry-After` on every path, never a 500 or Django's debug page: JSON under `/api/`, an
OpenRosa message for ODK Collect, a short page in the user's language otherwise. Any other
unexpected error under `/api/` is a JSON 500. Either way the traceback goes to the log,
and never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.urls import NoReverseMatch

from server.core.errors import RETRY_AFTER, STORAGE_UNAVAILABLE, error_body, storage_unavailable
from server.openrosa.responses import message_response

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
PAGE_TEMPLATE = "dashboard/unavailable.html"
OPENROSA_UNAVAILABLE = (
    "服务器暂时无法连接数据库，请稍后再试。 "
    "The server cannot reach its data store right now; try again later."
)
PLAIN_UNAVAILABLE = "暂时无法显示，请稍后再试。 Temporarily unavailable; try again shortly.\n"
#: What Django itself turns into a 4xx: not ours to answer.
_CLIENT_ERRORS = (Http404, PermissionDenied, SuspiciousOperation, BadRequest)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def is_openrosa(request: HttpRequest) -> bool:
    """An ODK Collect route (`openrosa-*` URL names) or a request that speaks OpenRosa."""
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match is not None else ""
    return name.startswith("openrosa-") or "X-OpenRosa-Version" in request.headers


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for `request` while CouchDB is out of reach, in the form its client reads."""
    if is_api(request):
        response: HttpResponse = JsonResponse(
            error_body("storage_unavailable", STORAGE_UNAVAILABLE), status=503
        )
    elif is_openrosa(request):
        response = message_response(OPENROSA_UNAVAILABLE, 503)
    else:
        try:
            response = render(request, PAGE_TEMPLATE, status=503)
        except (TemplateDoesNotExist, NoReverseMatch):  # a URL set without the dashboard
            response = HttpResponse(
                PLAIN_UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8"
            )
    response["Retry-After"] = RETRY_AFTER
    return response


class ErrorResponseMiddleware:
    """Turns storage outages into 503s everywhere and any API error into JSON (see above)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if storage_unavailable(exception) is not None:
            log.error(
                "storage unavailable on %s %s", request.method, request.path, exc_info=exception
            )
            return unavailable_response(request)
        if is_api(request) and not isinstance(exception, _CLIENT_ERRORS):
            log.error("server error on %s %s", request.method, request.path, exc_info=exception)
            body = error_body("server_error", "Something went wrong on the server; it was logged.")
            return JsonResponse(body, status=500)
        return None
