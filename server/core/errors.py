"""The server's one error type and the DRF handler that turns errors into clear JSON.

Every API error body is `{"error": code, "message": text, "detail": ...}`.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from sync.errors import CouchUnavailable, SyncError

log = logging.getLogger(__name__)


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


def _body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message, "detail": detail}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(_body(exc.code, exc.message, exc.extra), status=exc.status_code)
    if isinstance(exc, CouchUnavailable):
        log.warning("storage unavailable: %s", exc)
        response = Response(
            _body("storage_unavailable", "The data store is unavailable; try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "30"
        return response
    if isinstance(exc, SyncError):
        log.error("storage error: %s", exc)
        return Response(
            _body("storage_error", "The data store refused the request."),
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
        response.data = _body(code, str(message), None if isinstance(exc.detail, str) else detail)
    return response
