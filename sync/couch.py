"""The one CouchDB client: the only module that builds CouchDB URLs and speaks HTTP to it.

Built on httpx rather than a CouchDB library: the maintained Python CouchDB clients are
either async-only (aiocouch) or tied to one vendor (ibmcloudant), and Cradle needs exact
control over retries, timeouts, per-document `_bulk_docs` results and error messages
that never carry credentials. Works against Apache CouchDB 3 and PouchDB Server: sequences
are kept as opaque values, every request authenticates, `_bulk_get` falls back to
`_all_docs` where a server lacks it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import orjson

from sync.errors import (
    CouchConflict,
    CouchError,
    CouchNotFound,
    CouchUnauthorized,
    CouchUnavailable,
)

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Seq = str | int  # opaque: store what the server returned, never compare or do arithmetic

_RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class CouchSettings:
    """Where the server is and how to talk to it; `url` never carries credentials."""

    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.2

    @classmethod
    def from_url(cls, url: str, username: str = "", password: str = "", **kw: Any) -> CouchSettings:
        """Split `http://user:pass@host:port/` into a clean URL and credentials.

        >>> CouchSettings.from_url("http://a:b@127.0.0.1:5984").url
        'http://127.0.0.1:5984'
        """
        parts = urlsplit(url)
        user = username or (parts.username and _unquote(parts.username)) or ""
        pw = password or (parts.password and _unquote(parts.password)) or ""
        host = parts.hostname or "127.0.0.1"
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        clean = urlunsplit((parts.scheme or "http", netloc, parts.path.rstrip("/"), "", ""))
        return cls(url=clean, username=user, password=pw, **kw)


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def doc_path(doc_id: str) -> str:
    """Quote a document id for a URL path, keeping `_design/` and `_local/` prefixes."""
    for prefix in ("_design/", "_local/"):
        if doc_id.startswith(prefix):
            return prefix + quote(doc_id[len(prefix) :], safe="")
    return quote(doc_id, safe="")


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _in_request_order(rows: list[JSON], docs: Sequence[JSON]) -> list[JSON]:
    """`_bulk_docs` results lined up with the documents sent.

    CouchDB answers in request order, but PouchDB Server may not (it has answered a
    conflict, then a new document, then an update), so results are matched by id
    whenever every document carries one; a repeated id takes its results in order.
    """
    ids = [d.get("_id") for d in docs]
    if None in ids or [r.get("id") for r in rows] == ids:
        return rows
    pending: dict[str, list[JSON]] = {}
    for row in rows:
        pending.setdefault(row.get("id", ""), []).append(row)
    try:
        return [pending[i].pop(0) for i in ids]
    except (KeyError, IndexError) as exc:
        raise CouchError(
            "POST", "_bulk_docs", 500, "bad_response", "results do not match the documents sent"
        ) from exc


@dataclass(frozen=True)
class BulkResult:
    """One document's outcome in a `_bulk_docs` call."""

    id: str
    rev: str | None
    error: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def conflict(self) -> bool:
        return self.error == "conflict"


@dataclass(frozen=True)
class FindPage:
    docs: list[JSON]
    bookmark: str | None
    warning: str | None


@dataclass(frozen=True)
class ChangesPage:
    results: list[JSON]
    last_seq: Seq
    pending: int | None


class CouchClient:
    """A connection pool to one CouchDB server.

    >>> with CouchClient(CouchSettings.from_url("http://admin:pw@127.0.0.1:5984")) as couch:
    ...     couch.server_info()["version"]  # doctest: +SKIP
    """

    def __init__(
        self, settings: CouchSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        auth = (settings.username, settings.password) if settings.username else None
        self._http = httpx.Client(
            base_url=settings.url,
            auth=auth,
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
            headers={"Accept": "application/json"},
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    # -- plumbing -----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CouchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        ok_statuses: Iterable[int] = (),
        raw: bool = False,
        retries: int | None = None,
    ) -> Any:
        """Send one request, retrying connection errors and 5xx with jittered backoff.

        Every method is retried: Cradle only writes documents with explicit ids and
        revisions, so a repeated write surfaces as a 409 for the caller to reconcile,
        never as a duplicate.
        """
        body = _dumps(json) if json is not None else content
        hdrs = dict(headers or {})
        if json is not None:
            hdrs["Content-Type"] = "application/json"
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        url_for_errors = self.settings.url + path
        attempts = (self.settings.retries if retries is None else retries) + 1
        last_exc: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                delay = self.settings.backoff * (2 ** (attempt - 1))
                time.sleep(delay + random.uniform(0, delay))
            try:
                response = self._http.request(
                    method,
                    path,
                    content=body,
                    params=query,
                    headers=hdrs,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                last_exc = exc
                log.info(
                    "CouchDB %s %s: %s (attempt %d)", method, path, type(exc).__name__, attempt + 1
                )
                continue
            if response.status_code in _RETRY_STATUSES and attempt + 1 < attempts:
                log.info(
                    "CouchDB %s %s: HTTP %d (attempt %d)",
                    method,
                    path,
                    response.status_code,
                    attempt + 1,
                )
                continue
            return self._result(method, url_for_errors, response, ok_statuses, raw)
        raise CouchUnavailable(
            method, url_for_errors, None, type(last_exc).__name__, str(last_exc)
        ) from last_exc

    def _result(
        self, method: str, url: str, response: httpx.Response, ok_statuses: Iterable[int], raw: bool
    ) -> Any:
        status = response.status_code
        if status < 400 or status in ok_statuses:
            if raw:
                return response
            return orjson.loads(response.content) if response.content else None
        error, reason = _error_fields(response)
        kind: type[CouchError]
        if status in (401, 403):
            kind = CouchUnauthorized
        elif status == 404:
            kind = CouchNotFound
        elif status in (409, 412):
            kind = CouchConflict
        elif status >= 500:
            kind = CouchUnavailable
        else:
            kind = CouchError
        raise kind(method, url, status, error, reason)

    # -- server ------------------------------------------------------------------------

    def server_info(self) -> JSON:
        """`GET /`: vendor and version (answers without credentials on CouchDB 3)."""
        return self.request("GET", "/")

    def session(self) -> JSON:
        """`GET /_session`: who the server thinks we are; proves the credentials work."""
        info = self.request("GET", "/_session")
        if not (info.get("userCtx") or {}).get("name"):
            raise CouchUnauthorized(
                "GET", self.settings.url + "/_session", 401, "unauthorized", "no user"
            )
        return info

    def all_dbs(self) -> list[str]:
        return self.request("GET", "/_all_dbs")

    def db(self, name: str) -> Database:
        return Database(self, name)

    def db_url(self, name: str, *, with_credentials: bool = True) -> str:
        """The URL of a database on this server, as a replication document names it
        (with this client's credentials unless asked not to)."""
        parts = urlsplit(self.settings.url)
        netloc = parts.netloc
        if with_credentials and self.settings.username:
            user = quote(self.settings.username, safe="")
            password = quote(self.settings.password, safe="")
            netloc = f"{user}:{password}@{netloc}"
        path = f"{parts.path}/{quote(name, safe='')}"
        return urlunsplit((parts.scheme, netloc, path, "", ""))

    def scheduler_doc(self, db: str, doc_id: str) -> JSON | None:
        """`GET /_scheduler/docs/{db}/{id}`: a replication document's state on Apache
        CouchDB 3; None where the server has no scheduler (PouchDB Server) or no such job."""
        path = f"/_scheduler/docs/{quote(db, safe='')}/{doc_path(doc_id)}"
        try:
            return self.request("GET", path, retries=0)
        except CouchNotFound:
            return None
        except CouchError as exc:
            if exc.status in (400, 405, 501):
                return None
            raise

    def replicate(self, source: str, target: str, **options: Any) -> JSON:
        """One-shot `POST /_replicate` (URLs may carry credentials; they are never logged)."""
        body = {"source": source, "target": target, **options}
        return self.request(
            "POST", "/_replicate", json=body, timeout=max(self.settings.timeout, 300)
        )


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return str(value)


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, response.text[:200] or None
    if isinstance(data, dict):
        return data.get("error"), data.get("reason")
    return None, None


class Database:
    """One database on the server. Cheap to create; holds no state but its name."""

    def __init__(self, client: CouchClient, name: str) -> None:
        self.client = client
        self.name = name
        self.path = "/" + quote(name, safe="")

    def __repr__(self) -> str:
        return f"Database({self.name!r})"

    # -- database ----------------------------------------------------------------------

    def info(self) -> JSON:
        return self.client.request("GET", self.path)

    def exists(self) -> bool:
        try:
            self.client.request("HEAD", self.path)
        except CouchNotFound:
            return False
        return True

    def create(self) -> bool:
        """Create the database; False when it already existed."""
        try:
            self.client.request("PUT", self.path)
        except CouchConflict:
            return False
        return True

    def delete(self) -> None:
        self.client.request("DELETE", self.path)

    def ensure(
        self,
        *,
        member_roles: Sequence[str] = (),
        member_names: Sequence[str] = (),
        admin_roles: Sequence[str] = (),
        admin_names: Sequence[str] = (),
    ) -> bool:
        """Create if missing and set `_security` (always: PouchDB Server and CouchDB 2
        leave a database without members open to anonymous clients). True if created."""
        created = self.create()
        wanted = {
            "admins": {"names": list(admin_names), "roles": list(admin_roles)},
            "members": {"names": list(member_names), "roles": list(member_roles)},
        }
        if not (member_names or member_roles):
            # Members must never be empty: fall back to the admin role so that only
            # server admins can read.
            wanted["members"]["roles"] = ["_admin"]
        if self.security() != wanted:
            self.client.request("PUT", f"{self.path}/_security", json=wanted)
        return created

    def security(self) -> JSON:
        return self.client.request("GET", f"{self.path}/_security") or {}

    # -- documents ---------------------------------------------------------------------

    def get(self, doc_id: str, **params: Any) -> JSON | None:
        """The document, or None when it does not exist (or was deleted)."""
        try:
            return self.client.request("GET", f"{self.path}/{doc_path(doc_id)}", params=params)
        except CouchNotFound:
            return None

    def put(self, doc: JSON) -> str:
        """Write one document (with `_rev` to update); returns the new revision."""
        result = self.client.request("PUT", f"{self.path}/{doc_path(doc['_id'])}", json=doc)
        return result["rev"]

    def delete_doc(self, doc_id: str, rev: str) -> str:
        result = self.client.request(
            "DELETE", f"{self.path}/{doc_path(doc_id)}", params={"rev": rev}
        )
        return result["rev"]

    def bulk_docs(self, docs: Sequence[JSON], *, new_edits: bool = True) -> list[BulkResult]:
        """`_bulk_docs` with one result per document; conflicts are returned, never dropped.

        With `new_edits=False` (replaying revisions) CouchDB answers only the failures,
        so results are matched back by id.
        """
        if not docs:
            return []
        body: JSON = {"docs": list(docs)}
        if not new_edits:
            body["new_edits"] = False
        rows = self.client.request("POST", f"{self.path}/_bulk_docs", json=body)
        if new_edits:
            return [
                BulkResult(
                    r.get("id", d.get("_id", "")), r.get("rev"), r.get("error"), r.get("reason")
                )
                for r, d in zip(_in_request_order(rows, docs), docs, strict=True)
            ]
        failed = {r["id"]: r for r in rows if r.get("error")}
        return [
            BulkResult(
                d["_id"],
                d.get("_rev"),
                failed.get(d["_id"], {}).get("error"),
                failed.get(d["_id"], {}).get("reason"),
            )
            for d in docs
        ]

    def all_docs(
        self,
        *,
        keys: Sequence[str] | None = None,
        start_key: str | None = None,
        end_key: str | None = None,
        include_docs: bool = False,
        limit: int | None = None,
        skip: int | None = None,
        inclusive_end: bool = True,
        descending: bool = False,
    ) -> list[JSON]:
        """Rows of `_all_docs`; by `keys` (POST) or by key range (`descending`: from
        `start_key` down to `end_key`)."""
        params: dict[str, Any] = {
            "include_docs": include_docs,
            "limit": limit,
            "skip": skip,
            "descending": descending or None,
        }
        if keys is not None:
            body = {"keys": list(keys)}
            return self.client.request("POST", f"{self.path}/_all_docs", json=body, params=params)[
                "rows"
            ]
        if start_key is not None:
            params["start_key"] = orjson.dumps(start_key).decode()
        if end_key is not None:
            params["end_key"] = orjson.dumps(end_key).decode()
        if not inclusive_end:
            params["inclusive_end"] = False
        return self.client.request("GET", f"{self.path}/_all_docs", params=params)["rows"]

    def iter_all_docs(
        self,
        *,
        start_key: str | None = None,
        end_key: str | None = None,
        batch: int = 1000,
        include_docs: bool = True,
    ) -> Iterator[JSON]:
        """Every row in a key range, paged by key (not `skip`, which gets slower with depth)."""
        next_key = start_key
        skip_first = False
        while True:
            rows = self.all_docs(
                start_key=next_key,
                end_key=end_key,
                include_docs=include_docs,
                limit=batch + (1 if skip_first else 0),
            )
            if skip_first and rows:
                rows = rows[1:]
            yield from rows
            if len(rows) < batch:
                return
            next_key = rows[-1]["id"]
            skip_first = True

    def bulk_get(self, ids: Sequence[str]) -> dict[str, JSON]:
        """The current documents for `ids` (missing and deleted ones left out).

        Uses `_bulk_get`; falls back to `_all_docs?include_docs=true` on servers without it.
        """
        if not ids:
            return {}
        try:
            data = self.client.request(
                "POST", f"{self.path}/_bulk_get", json={"docs": [{"id": i} for i in ids]}
            )
        except CouchError as exc:
            if exc.status not in (400, 404, 405, 501):
                raise
            rows = self.all_docs(keys=ids, include_docs=True)
            return {r["id"]: r["doc"] for r in rows if r.get("doc")}
        found: dict[str, JSON] = {}
        for result in data.get("results", []):
            for item in result.get("docs", []):
                doc = item.get("ok")
                if doc and not doc.get("_deleted"):
                    found[doc["_id"]] = doc
        return found

    # -- queries -----------------------------------------------------------------------

    def create_index(self, fields: Sequence[str], *, name: str, ddoc: str | None = None) -> JSON:
        """A Mango index (the portable way to query on both servers)."""
        body: JSON = {"index": {"fields": list(fields)}, "name": name, "type": "json"}
        if ddoc:
            body["ddoc"] = ddoc
        return self.client.request("POST", f"{self.path}/_index", json=body)

    def view(
        self,
        ddoc: str,
        name: str,
        *,
        key: Any = None,
        keys: Sequence[Any] | None = None,
        start_key: Any = None,
        end_key: Any = None,
        limit: int | None = None,
        reduce: bool = False,
        group_level: int | None = None,
        include_docs: bool = False,
        descending: bool = False,
    ) -> list[JSON]:
        """Rows of a view, by `key`, `keys` or a key range (`_design/<ddoc>/_view/<name>`)."""
        params: dict[str, Any] = {
            "reduce": reduce,
            "limit": limit,
            "include_docs": include_docs or None,
            "descending": descending or None,
            "group_level": group_level,
        }
        for param, value in (("key", key), ("start_key", start_key), ("end_key", end_key)):
            if value is not None:
                params[param] = orjson.dumps(value).decode()
        path = f"{self.path}/_design/{quote(ddoc, safe='')}/_view/{quote(name, safe='')}"
        if keys is not None:
            return self.client.request("POST", path, json={"keys": list(keys)}, params=params)[
                "rows"
            ]
        return self.client.request("GET", path, params=params)["rows"]

    def indexes(self) -> list[JSON]:
        return self.client.request("GET", f"{self.path}/_index")["indexes"]

    def find(
        self,
        selector: JSON,
        *,
        fields: Sequence[str] | None = None,
        sort: Sequence[Any] | None = None,
        limit: int = 100,
        bookmark: str | None = None,
        skip: int | None = None,
        use_index: str | Sequence[str] | None = None,
    ) -> FindPage:
        body: JSON = {"selector": selector, "limit": limit}
        if fields is not None:
            body["fields"] = list(fields)
        if sort is not None:
            body["sort"] = list(sort)
        if bookmark:
            body["bookmark"] = bookmark
        if skip:
            body["skip"] = skip
        if use_index:
            body["use_index"] = use_index
        data = self.client.request("POST", f"{self.path}/_find", json=body)
        return FindPage(data.get("docs", []), data.get("bookmark"), data.get("warning"))

    def iter_find(self, selector: JSON, *, batch: int = 500, **kw: Any) -> Iterator[JSON]:
        """Every matching document, paging with CouchDB's bookmarks.

        PouchDB Server returns no bookmark; there the walk pages with `skip` instead.
        """
        bookmark: str | None = None
        offset = 0
        while True:
            page = self.find(
                selector, limit=batch, bookmark=bookmark, skip=None if bookmark else offset, **kw
            )
            yield from page.docs
            if len(page.docs) < batch:
                return
            offset += len(page.docs)
            bookmark = page.bookmark

    def changes(
        self,
        *,
        since: Seq = 0,
        limit: int | None = None,
        include_docs: bool = False,
        feed: str = "normal",
        timeout_ms: int | None = None,
        filter: str | None = None,
        params: Mapping[str, Any] | None = None,
        conflicts: bool = False,
    ) -> ChangesPage:
        """One page of `_changes`. `since` is whatever an earlier page returned."""
        query: dict[str, Any] = {
            "since": since,
            "limit": limit,
            "include_docs": include_docs or None,
            "feed": feed,
            "filter": filter,
            "conflicts": conflicts or None,
            **(params or {}),
        }
        if feed != "longpoll":
            data = self.client.request("GET", f"{self.path}/_changes", params=query)
            return ChangesPage(data.get("results", []), data.get("last_seq"), data.get("pending"))
        wait = timeout_ms if timeout_ms is not None else 30000
        query["timeout"] = wait
        try:
            # CouchDB answers an empty page when `timeout` passes; PouchDB Server ignores
            # it and holds the request, so the client's own deadline means "nothing yet".
            data = self.client.request(
                "GET", f"{self.path}/_changes", params=query, timeout=wait / 1000 + 2, retries=0
            )
        except CouchUnavailable as exc:
            if exc.error != "ReadTimeout":
                raise
            return ChangesPage([], since, None)
        return ChangesPage(data.get("results", []), data.get("last_seq"), data.get("pending"))

    def iter_changes(
        self, *, since: Seq = 0, batch: int = 1000, include_docs: bool = True, **kw: Any
    ) -> Iterator[ChangesPage]:
        """Pages of changes until the feed is drained; `_design/` documents are left out."""
        while True:
            page = self.changes(since=since, limit=batch, include_docs=include_docs, **kw)
            results = [r for r in page.results if not r["id"].startswith("_design/")]
            yield ChangesPage(results, page.last_seq, page.pending)
            if len(page.results) < batch or page.last_seq == since:
                return
            since = page.last_seq

    # -- attachments and design documents ------------------------------------------------

    def put_attachment(
        self, doc_id: str, rev: str, name: str, data: bytes, content_type: str
    ) -> str:
        path = f"{self.path}/{doc_path(doc_id)}/{quote(name, safe='')}"
        result = self.client.request(
            "PUT", path, content=data, params={"rev": rev}, headers={"Content-Type": content_type}
        )
        return result["rev"]

    def get_attachment(self, doc_id: str, name: str) -> bytes | None:
        path = f"{self.path}/{doc_path(doc_id)}/{quote(name, safe='')}"
        try:
            response = self.client.request("GET", path, raw=True)
        except CouchNotFound:
            return None
        return response.content

    def ensure_design(self, ddoc_id: str, body: JSON) -> bool:
        """Create or update a design document so it equals `body`; True if written."""
        current = self.get(ddoc_id)
        wanted = {"_id": ddoc_id, **body}
        if current is not None:
            if {k: v for k, v in current.items() if k != "_rev"} == wanted:
                return False
            wanted["_rev"] = current["_rev"]
        self.put(wanted)
        return True
