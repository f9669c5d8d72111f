"""The one error family of the `sync` package."""

from __future__ import annotations


class SyncError(Exception):
    """Anything that went wrong while moving data into or between stores."""


class CouchError(SyncError):
    """A CouchDB request failed; names the method, URL (never credentials), status and reason."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.error = error
        self.reason = reason
        status_text = "no response" if status is None else f"HTTP {status}"
        detail = ": ".join(part for part in (error, reason) if part)
        super().__init__(
            f"CouchDB {method} {url} failed ({status_text}){': ' if detail else ''}{detail}"
        )


class CouchUnavailable(CouchError):
    """The server could not be reached or kept failing (connection error, timeout, 5xx)."""


class CouchUnauthorized(CouchError):
    """401/403: wrong credentials or no permission on that database."""


class CouchNotFound(CouchError):
    """404: the database, document or attachment does not exist."""


class CouchConflict(CouchError):
    """409 or 412: a stale revision, or a database that already exists."""
