"""The one module that talks to ODK Central: pyodk's `Client`, with Cradle's own retries.

pyodk mounts its retrying adapter only for https://, does not follow `@odata.nextLink`
and raises `PyODKError` for any error status; so every request goes through `_request`
here, which retries connection errors, 429 and 5xx with backoff (honouring
`Retry-After`), logs in again once when a session expires, and turns refusals into one
`CentralError` line that names the server and the reason, never credentials.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from pyodk._utils.session import Adapter
from pyodk.client import Client
from pyodk.errors import PyODKError

from sync.central.config import Source
from sync.errors import CentralAuthError, CentralError, CentralNotFound, CentralUnavailable

log = logging.getLogger(__name__)

# pyodk logs every failed request at ERROR with a traceback; Cradle reports failures itself.
logging.getLogger("pyodk").setLevel(logging.CRITICAL)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
JSON = dict[str, Any]


class CentralClient:
    """A logged-in connection to one Central project.

    >>> with CentralClient(source) as central:  # doctest: +SKIP
    ...     central.check_form("immunization")
    ...     for page in central.pages("immunization", filter="__system/edits gt 0"):
    ...         print(len(page["value"]))
    """

    def __init__(
        self,
        source: Source,
        *,
        retries: int | None = None,
        backoff: float | None = None,
        max_delay: float = 60.0,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.retries = source.retries if retries is None else retries
        self.backoff = source.backoff_seconds if backoff is None else backoff
        self.max_delay = max_delay
        self.timeout = timeout
        self._sleep = sleep
        self._client: Client | None = None
        # One request at a time: a sync reads the next slice on one thread while another
        # may fetch attachments, and pyodk's session (its token) is not made for sharing.
        self._lock = threading.Lock()
        self.requests_made = 0
        self.retried = 0

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> CentralClient:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Build pyodk's client and log in (a cached token is reused when still valid)."""
        try:
            self._client = Client(
                config_path=self.source.pyodk_config,
                cache_path=self.source.pyodk_cache,
                project_id=self.source.project_id,
            )
        except PyODKError as e:
            raise CentralError(f"{self.source.pyodk_config}: {e}") from e
        # Cradle's retries are the only policy, on http:// and https:// alike, and every
        # request has a timeout (pyodk sets one only for https://).
        session = self._client.session
        for prefix in ("http://", "https://"):
            session.mount(
                prefix, Adapter(timeout=self.timeout, max_retries=0, blocksize=session.blocksize)
            )
        self._request("logging in", "users/current", lambda: self._session.get("users/current"))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def _session(self) -> Any:
        if self._client is None:
            raise CentralError("the Central client is not open")
        return self._client.session

    @property
    def server(self) -> str:
        return self.source.server

    # -- projects and forms ------------------------------------------------------------------

    def check_project(self) -> JSON:
        pid = self.source.project_id
        path = f"projects/{pid}"
        return self._request(f"project {pid}", path, lambda: self._session.get(path))

    def check_form(self, form_id: str) -> JSON:
        """The form's metadata; `CentralNotFound` naming it when the project lacks it."""
        path = self._session.urlformat(
            "projects/{pid}/forms/{fid}", pid=self.source.project_id, fid=form_id
        )
        return self._request(f"form {form_id!r}", path, lambda: self._session.get(path))

    # -- submissions ---------------------------------------------------------------------------

    def first_page(
        self,
        form_id: str,
        *,
        filter: str | None = None,
        top: int | None = None,
        count: bool = False,
        select: str | None = None,
    ) -> JSON:
        """One page of the OData feed through pyodk's `get_table`."""
        assert self._client is not None
        submissions = self._client.submissions
        return self._request(
            f"form {form_id!r} submissions",
            f"projects/{self.source.project_id}/forms/{form_id}.svc/Submissions",
            lambda: submissions.get_table(
                form_id=form_id,
                project_id=self.source.project_id,
                filter=filter,
                top=top,
                count=True if count else None,
                select=select,
            ),
        )

    def follow(self, form_id: str, link: str) -> JSON:
        """The page an `@odata.nextLink` names, asked of the configured server (Central builds
        the link from its own idea of its domain, which a proxy may change)."""
        parts = urlsplit(link)
        base = urlsplit(self._session.base_url)
        url = f"{base.scheme}://{base.netloc}{parts.path}" + (
            f"?{parts.query}" if parts.query else ""
        )
        return self._request(
            f"form {form_id!r} submissions (next page)",
            parts.path,
            lambda: self._session.get(url, timeout=self.timeout),
        )

    def pages(
        self,
        form_id: str,
        *,
        filter: str | None,
        top: int,
        count: bool = True,
        select: str | None = None,
    ) -> Iterator[JSON]:
        """Every page of a filtered feed, newest first, following `@odata.nextLink` to the end."""
        page = self.first_page(form_id, filter=filter, top=top, count=count, select=select)
        seen: set[str] = set()
        while True:
            yield page
            link = page.get("@odata.nextLink")
            if not link or not page.get("value"):
                return
            if link in seen:
                raise CentralError(f"ODK Central {self.server}: the next-page link repeats: {link}")
            seen.add(link)
            page = self.follow(form_id, link)

    def boundary(
        self, form_id: str, *, filter: str | None, skip: int, count: bool = False
    ) -> tuple[str | None, int | None]:
        """The `submissionDate` of the row `skip` rows into a filtered feed read oldest
        first (None past its end) and, with `count`, how many rows the feed holds."""
        params = {
            "$orderby": "__system/submissionDate asc",
            "$skip": str(skip),
            "$top": "1",
            "$select": "__id,__system",
        }
        if filter:
            params["$filter"] = filter
        if count:
            params["$count"] = "true"
        page = self._feed(form_id, f"form {form_id!r} submissions (slice)", params)
        rows = page.get("value") or []
        total = page.get("@odata.count")
        found = rows[0]["__system"].get("submissionDate") if rows else None
        return found, total if isinstance(total, int) else None

    def latest(self, form_id: str, field: str, *, deleted: bool = False) -> str | None:
        """The newest value of a `__system` time field, by `$orderby ... desc` and `$top=1`."""
        params = {
            "$orderby": f"__system/{field} desc",
            "$top": "1",
            "$select": "__id,__system",
        }
        if deleted:
            params["$filter"] = "__system/deletedAt ne null"
        rows = self._feed(form_id, f"form {form_id!r} latest {field}", params).get("value") or []
        return rows[0]["__system"].get(field) if rows else None

    def _feed(self, form_id: str, what: str, params: dict[str, str]) -> JSON:
        """One page of the form's OData feed with these query options, asked directly
        (pyodk's `get_table` has no `$orderby`)."""
        path = self._session.urlformat(
            "projects/{pid}/forms/{fid}.svc/Submissions", pid=self.source.project_id, fid=form_id
        )
        return self._request(
            what, path, lambda: self._session.get(path, params=params, timeout=self.timeout)
        )

    def row(self, form_id: str, instance_id: str) -> JSON | None:
        """The OData row of one live submission (`Submissions('<instanceID>')`), or None
        when Central has no live submission with that id (deleted or purged)."""
        path = self._session.urlformat(
            "projects/{pid}/forms/{fid}.svc/Submissions('{iid}')",
            pid=self.source.project_id,
            fid=form_id,
            iid=instance_id,
        )
        try:
            page = self._request(
                f"submission {instance_id}",
                path,
                lambda: self._session.get(path, timeout=self.timeout),
            )
        except CentralNotFound:
            return None
        rows = page.get("value") or []
        return rows[0] if rows else None

    # -- attachments -----------------------------------------------------------------------------

    def attachment_names(self, form_id: str, instance_id: str) -> list[str]:
        """Names of the attachments Central holds for the submission's current version."""
        path = self._session.urlformat(
            "projects/{pid}/forms/{fid}/submissions/{iid}/attachments",
            pid=self.source.project_id,
            fid=form_id,
            iid=instance_id,
        )
        listing = self._request(
            f"attachments of {instance_id}", path, lambda: self._session.get(path)
        )
        return [item["name"] for item in listing if item.get("exists")]

    def attachment(self, form_id: str, instance_id: str, name: str) -> tuple[bytes, str]:
        path = self._session.urlformat(
            "projects/{pid}/forms/{fid}/submissions/{iid}/attachments/{name}",
            pid=self.source.project_id,
            fid=form_id,
            iid=instance_id,
            name=name,
        )
        response = self._request(
            f"attachment {name} of {instance_id}",
            path,
            lambda: self._session.get(path, timeout=self.timeout),
            read=lambda r: r.content,
        )
        content_type = response[1] or "application/octet-stream"
        return response[0], content_type

    # -- the one request funnel --------------------------------------------------------------------

    def _request(
        self,
        what: str,
        path: str,
        send: Callable[[], Any],
        read: Callable[[requests.Response], Any] | None = None,
    ) -> Any:
        """Send with retries; the parsed JSON (or `(read(response), content type)`)."""
        with self._lock:
            return self._send(what, path, send, read)

    def _send(
        self,
        what: str,
        path: str,
        send: Callable[[], Any],
        read: Callable[[requests.Response], Any] | None,
    ) -> Any:
        relogged = False
        last = "no answer"
        attempts = self.retries + 1
        for attempt in range(attempts):
            self.requests_made += 1
            try:
                outcome = send()
            except PyODKError as e:
                outcome = _response_of(e)
                if outcome is None:
                    raise CentralError(f"ODK Central {self.server}: {what}: {e.args[0]}") from e
            except (requests.ConnectionError, requests.Timeout) as e:
                last = _connection_reason(e)
                self._wait(what, attempt, attempts, last, None)
                continue
            except requests.RequestException as e:  # a body cut short, a broken encoding
                last = type(e).__name__
                self._wait(what, attempt, attempts, last, None)
                continue
            if not isinstance(outcome, requests.Response):
                return outcome  # pyodk already parsed a successful answer
            response = outcome
            status = response.status_code
            if status < 400:
                try:
                    if read is not None:
                        return read(response), response.headers.get("Content-Type")
                    return orjson.loads(response.content)
                except (ValueError, requests.RequestException) as e:
                    last = f"unreadable answer ({type(e).__name__})"
                    self._wait(what, attempt, attempts, last, None)
                    continue
            if _is_login(response):
                if status in (401, 403):
                    raise CentralAuthError(
                        f"ODK Central {self.server} refused the login for "
                        f"{self.source.username} (HTTP {status}): wrong email or password",
                        url=self.server,
                        status=status,
                    )
            elif status == 401 and not relogged:
                relogged = True  # the session expired: pyodk logs in again on the next request
                self._session.headers.pop("Authorization", None)
                continue
            if status in RETRY_STATUSES:
                last = f"HTTP {status}"
                self._wait(what, attempt, attempts, last, _retry_after(response))
                continue
            raise self._refusal(what, path, response)
        raise CentralUnavailable(
            f"cannot reach ODK Central at {self.server} ({what}): {last} after {attempts} attempts",
            url=self.server,
        )

    def _wait(
        self, what: str, attempt: int, attempts: int, reason: str, retry_after: float | None
    ) -> None:
        if attempt + 1 >= attempts:
            return
        self.retried += 1
        if retry_after is not None:
            delay = min(retry_after, self.max_delay)
        else:
            step = min(self.max_delay, self.backoff * (2**attempt))
            delay = step / 2 + random.uniform(0, step / 2)
        log.info(
            "Central %s: %s; retrying in %.1f s (attempt %d)", what, reason, delay, attempt + 1
        )
        self._sleep(delay)

    def _refusal(self, what: str, path: str, response: requests.Response) -> CentralError:
        status = response.status_code
        message = _central_message(response)
        where = f"ODK Central {self.server}"
        pid = self.source.project_id
        if status == 403:
            thing = what if what.startswith("project") else f"{what} of project {pid}"
            return CentralAuthError(
                f"{where}: {self.source.username} may not read {thing} (HTTP 403)",
                url=path,
                status=status,
            )
        if status == 404:
            if what.startswith("project"):
                text = f"{where} has no project {pid} (HTTP 404)"
            else:
                text = f"{where}: project {pid} has no {what} (HTTP 404)"
            return CentralNotFound(text, url=path, status=status)
        return CentralError(
            f"{where}: {what} failed (HTTP {status}): {message}", url=path, status=status
        )


def _response_of(error: PyODKError) -> requests.Response | None:
    for arg in error.args[1:]:
        if isinstance(arg, requests.Response):
            return arg
    return None


def _is_login(response: requests.Response) -> bool:
    request = response.request
    return bool(request is not None and (request.url or "").rstrip("/").endswith("/sessions"))


def _central_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:200]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:300]
    return str(body)[:200]


def _retry_after(response: requests.Response) -> float | None:
    """`Retry-After` as seconds, from a number or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _connection_reason(error: Exception) -> str:
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "resolve" in text:
        return "unknown host"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if "reset" in text or "aborted" in text or "remote end closed" in text:
        return "connection dropped"
    return type(error).__name__
