"""Recording to the audit trail from the server (who, from which address)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from server.core.couch import cradle_db
from sync import audit

_buffer = audit.AuditBuffer()


def flush_audit() -> None:
    """Wait for buffered entries to be written (before reading the trail)."""
    _buffer.flush()


def audit_event(
    action: str,
    *,
    actor: str | None,
    source: str,
    request: HttpRequest | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    buffered: bool = False,
) -> str:
    """Record one event; `buffered` for the high-volume ones (one per submission)."""
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    write = _buffer.add if buffered else audit.record
    return write(
        cradle_db("audit"),
        action=action,
        actor=actor,
        source=source,
        target=target,
        address=address,
        detail=detail,
    )
