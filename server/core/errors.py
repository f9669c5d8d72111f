"""The server's one error type and the DRF handler that turns errors into clear JSON.

Every API error body is `{"error": code, "message": text, "detail": ...}`. CouchDB out of
reach is a 503 with `Retry-After` wherever it surfaces, also when a package wrapped it
(`AnalyticsError("cannot read ... from CouchDB") from CouchUnavailable`).
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from sync.errors import CouchUnavailable, SyncError

log = logging.getLogger(__name__)

#: Seconds a client should wait before trying again when CouchDB is out of reach.
RETRY_AFTER = "30"
STORAGE_UNAVAILABLE = "The data store is unavailable; try again shortly."


class ApplicationError(Exception):
    """A business-rule failure a client can understand and act on."""

    def __init__(
        self, message: str, *, code: str = "invalid", status_code: int = 400, extra: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.extra = extra


def storage_unavailable(exc: BaseException) -> CouchUnavailable | None:
    """The `CouchUnavailable` that `exc` is or was raised from (its `__cause__` chain, or
    the exception being handled when it was raised), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, CouchUnavailable):
            return current
        seen.add(id(current))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return None


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """The body of every API error."""
    return {"error": code, "message": message, "detail": detail}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if storage_unavailable(exc) is not None:
        request = context.get("request")
        where = f"{request.method} {request.path}" if request is not None else "API"
        log.error("storage unavailable on %s", where, exc_info=exc)
        response = Response(
            error_body("storage_unavailable", STORAGE_UNAVAILABLE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = RETRY_AFTER
        return response
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.extra), status=exc.status_code)
    if isinstance(exc, SyncError):
        log.error("storage error: %s", exc, exc_info=exc)
        return Response(
            error_body("storage_error", "The data store refused the request."),
            status=status.HTTP_502_BAD_GATEWAY,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        detail = response.data
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid"
        message = exc.detail if isinstance(exc.detail, str) else "The request is not valid."
        response.data = error_body(
            code, str(message), None if isinstance(exc.detail, str) else detail
        )
    return response
