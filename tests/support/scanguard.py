"""A guard that fails a test when a path reads CouchDB by scanning instead of by key.

Small test data hide scans: a full index walk over 50 documents is as quick as a key
lookup. So instead of timing, the guard records every request the code under test sends
to CouchDB and judges its *shape*:

- document reads and writes, `_bulk_get`, `_bulk_docs`, `_changes`: fine (keys, or the feed
  that local state is kept from);
- `_all_docs` and views: only by `key`/`keys`, by a range with both ends, or a page
  bounded by `limit` (at most 1000 rows) without a reduce over everything; never `skip`;
- `_find`: never `skip`; CouchDB's own `_explain` of the same query must name a real index
  and a range whose first field is fixed (equality), so a plan like PouchDB Server's `$in`
  plan (`[null]..[{}]`) or the `_all_docs` fallback fails the test.

>>> with no_scans() as log:  # doctest: +SKIP
...     client.get("/api/submissions/")
>>> log.requests  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from sync.couch import CouchClient

MAX_PAGE = 1000
_KEYED = ("key", "keys")


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, Any]
    body: Any


@dataclass
class QueryLog:
    requests: list[Request] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)

    def kinds(self) -> list[str]:
        """The endpoint of each request (`_find`, `_view/by_x`, `doc`, ...), in order."""
        return [_endpoint(r.path) for r in self.requests]


def _endpoint(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[1] == "_design" and parts[3] == "_view":
        return f"_view/{parts[2]}/{parts[4] if len(parts) > 4 else ''}"
    if len(parts) >= 2 and parts[1].startswith("_"):
        return parts[1]
    if len(parts) >= 2:
        return "doc"
    return parts[0] if parts else "/"


def _param(params: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in params and params[name] is not None:
            return params[name]
    return None


def _range_problem(request: Request, *, reduce_default: bool) -> str | None:
    params = {**request.params, **(request.body if isinstance(request.body, dict) else {})}
    if int(_param(params, "skip") or 0):
        return "pages with skip"
    if any(_param(params, k) is not None for k in _KEYED):
        return None
    start = _param(params, "start_key", "startkey")
    end = _param(params, "end_key", "endkey")
    if start is not None and end is not None:
        return None
    reduce = str(_param(params, "reduce")).lower() not in ("false", "0")
    if reduce and reduce_default:
        return "reduces over an unbounded range"
    limit = _param(params, "limit")
    if limit is not None and int(limit) <= MAX_PAGE:
        return None
    return "reads an unbounded range"


def _first(key: Any) -> Any:
    if isinstance(key, str):
        with contextlib.suppress(ValueError):
            key = orjson.loads(key)
    return key[0] if isinstance(key, list) and key else key


def _plan_problem(plan: Mapping[str, Any]) -> str | None:
    index = plan.get("index") or {}
    if index.get("name") == "_all_docs" or index.get("type") == "special":
        return "has no index (the plan walks _all_docs)"
    bounds = plan.get("range") or plan.get("mrargs") or {}
    start, end = _first(bounds.get("start_key")), _first(bounds.get("end_key"))
    if start is None or isinstance(start, dict | list) or start != end:
        return f"walks index {index.get('name')!r} over {start!r}..{end!r}, not one key"
    return None


def judge(client: CouchClient, request: Request, log: QueryLog) -> str | None:
    """Why this request scans, or None when it reads by key or bounded range."""
    kind = _endpoint(request.path)
    if kind == "_find":
        body = dict(request.body or {})
        if body.get("skip"):
            return "pages with skip"
        db = request.path.strip("/").split("/")[0]
        plan = _ORIGINAL(client, "POST", f"/{db}/_explain", json=body)
        log.explained.append(plan)
        return _plan_problem(plan)
    if kind == "_all_docs":
        if request.method == "POST" and isinstance(request.body, dict) and "keys" in request.body:
            return None
        return _range_problem(request, reduce_default=False)
    if kind.startswith("_view/"):
        return _range_problem(request, reduce_default=True)
    return None


_ORIGINAL = CouchClient.request


@contextlib.contextmanager
def no_scans(client: CouchClient | None = None, *, expect: bool = True) -> Iterator[QueryLog]:
    """Record every CouchDB request inside the block; on leaving it, fail on any scan.

    With `expect=True` the block must also have sent at least one request, so a test
    cannot pass because the path it meant to check read nothing. `client` asks `_explain`
    (default: the server's own client).
    """
    log = QueryLog()

    def recording(self: CouchClient, method: str, path: str, **kw: Any) -> Any:
        log.requests.append(Request(method, path, dict(kw.get("params") or {}), kw.get("json")))
        return _ORIGINAL(self, method, path, **kw)

    CouchClient.request = recording  # type: ignore[method-assign]
    try:
        yield log
    finally:
        CouchClient.request = _ORIGINAL  # type: ignore[method-assign]
    if client is None:
        from server.core.couch import get_couch

        client = get_couch()
    problems = []
    for request in log.requests:
        why = judge(client, request, log)
        if why:
            problems.append(f"{request.method} {request.path} {request.params or ''}: {why}")
    assert not problems, "CouchDB scans on a hot path:\n" + "\n".join(problems)
    assert log.requests or not expect, "the block sent no CouchDB request at all"
