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


# -- ODK Central sync and replication ---------------------------------------------------


class CentralError(SyncError):
    """ODK Central refused or failed a request, or Cradle's Central configuration is wrong.

    The message names the server, the request and the reason, never credentials.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class CentralAuthError(CentralError):
    """Central refused the login (wrong credentials) or the account may not read a project."""


class CentralNotFound(CentralError):
    """The project or form does not exist on Central (or the account cannot see it)."""


class CentralUnavailable(CentralError):
    """Central could not be reached or kept failing (connection errors, 429, 5xx) after retries."""


class SourceBusy(SyncError):
    """Another run of the same source holds its lock."""


class LeaseLost(SyncError):
    """This run's lock expired and was taken by another run: stop before writing more."""


class ReplicationError(SyncError):
    """A township replication could not be set up, read or resolved."""
