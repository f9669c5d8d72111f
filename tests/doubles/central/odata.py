"""Central's OData feed for a form: service document, `$metadata`, `Submissions` pages.

Paging follows central-backend (`lib/formats/odata.js`, `lib/util/odata.js`): rows
newest first (submissionDate desc, then insertion desc); `$top` cuts the page and,
when more rows match, `@odata.nextLink` repeats the request without `$skip` and with
`$skiptoken=01<base64 of {"instanceId": last row's __id}>`; `@odata.count` counts
every row the filter matches, not the page.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import orjson

from tests.doubles.central import problems
from tests.doubles.central.clock import iso_ms
from tests.doubles.central.filters import FIELDS, compile_filter
from tests.doubles.central.store import Form, Submission
from tests.doubles.central.xforms import form_values as _form_values
from tests.doubles.central.xforms import parse_xml, sanitize_identifier, values_json

SUPPORTED_PARAMS = (
    "$format",
    "$count",
    "$skip",
    "$top",
    "$filter",
    "$wkt",
    "$expand",
    "$select",
    "$skiptoken",
    "$orderby",
    "$search",
)
SYSTEM_FIELDS = (
    "submissionDate",
    "updatedAt",
    "submitterId",
    "submitterName",
    "attachmentsPresent",
    "attachmentsExpected",
    "status",
    "reviewState",
    "deviceId",
    "edits",
    "formVersion",
    "deletedAt",
)


def is_true(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def js_int(value: str | None) -> int | None:
    """JavaScript parseInt(value, 10); None for NaN."""
    if value is None:
        return None
    text = value.strip()
    digits = len(text) - len(text.lstrip("+-"))
    end = digits
    while end < len(text) and text[end].isdigit():
        end += 1
    return int(text[:end]) if end > digits else None


def system(sub: Submission) -> dict[str, Any]:
    present = sum(1 for blob in sub.current.attachments.values() if blob is not None)
    return {
        "submissionDate": iso_ms(sub.created_us),
        "updatedAt": iso_ms(sub.updated_us),
        "submitterId": str(sub.submitter.id),
        "submitterName": sub.submitter.display_name or None,
        "attachmentsPresent": present,
        "attachmentsExpected": len(sub.current.attachments),
        "status": None,
        "reviewState": sub.review_state,
        "deviceId": sub.device_id,
        "edits": len(sub.versions) - 1,
        "formVersion": sub.form_version,
        "deletedAt": iso_ms(sub.deleted_us),
    }


def row(form: Form, sub: Submission, wkt: bool = False) -> dict[str, Any]:
    root = parse_xml(sub.current.xml)
    return _form_values(form.current.info.fields, root, sub.instance_id, system(sub), wkt=wkt)


def row_bytes(form: Form, sub: Submission) -> bytes:
    """The row as served by default, kept until the row changes; its form values are kept
    until the XML (or the form's schema) changes."""
    if sub.row_cache is None:
        if sub.values_cache is None:
            root = parse_xml(sub.current.xml)
            sub.values_cache = values_json(form.current.info.fields, root, sub.instance_id)
        head, tail = sub.values_cache
        sub.row_cache = b"".join(
            (
                head,
                b'"__id":',
                orjson.dumps(sub.instance_id),
                b',"__system":',
                orjson.dumps(system(sub)),
                tail,
                b"}",
            )
        )
    return sub.row_cache


# -- query parsing -------------------------------------------------------------------


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query string as WHATWG URLSearchParams reads it."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def _encode(text: str) -> str:
    return quote_plus(text, safe="*-._").replace("~", "%7E")


def with_params(raw_path: str, raw_query: str, changes: dict[str, str | None]) -> str:
    """Central's `urlWithQueryParams`: delete or set (in place) params, re-serialize."""
    pairs = query_pairs(raw_query)
    for key, value in changes.items():
        if value is None:
            pairs = [(k, v) for k, v in pairs if k != key]
            continue
        index = next((i for i, (k, _) in enumerate(pairs) if k == key), None)
        pairs = [(k, v) for i, (k, v) in enumerate(pairs) if k != key or i == index]
        if index is None:
            pairs.append((key, value))
        else:
            pairs[index] = (key, value)
    search = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    return raw_path + ("?" + search if search else "")


def make_skiptoken(instance_id: str | None) -> str:
    data = json.dumps({"instanceId": instance_id}, separators=(",", ":"), ensure_ascii=False)
    return "01" + base64.b64encode(data.encode()).decode()


def read_skiptoken(token: str) -> dict[str, Any]:
    if not token.startswith("01"):
        raise problems.invalid_skiptoken()
    body = token[2:]
    try:
        parsed = json.loads(base64.b64decode(body + "=" * (-len(body) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise problems.invalid_skiptoken() from e
    if not isinstance(parsed, dict):
        raise problems.invalid_skiptoken()
    return parsed


def check_params(params: dict[str, str], accept: str | None, fmt: str = "json") -> None:
    """Central's OData preprocessor: format negotiation and supported options."""
    wanted = (params.get("$format") or accept or "").lower()
    is_xml = any(t in wanted for t in ("application/xml", "atom")) or wanted == "xml"
    is_json = "json" in wanted
    if (fmt == "json" and is_xml and not is_json) or (fmt == "xml" and is_json and not is_xml):
        allowed = ["application/json", "json"] if fmt == "json" else ["application/xml", "atom"]
        raise problems.unacceptable_format(allowed)
    for key in params:
        if key not in SUPPORTED_PARAMS:
            raise problems.not_implemented(key)
    if params.get("$expand") and params["$expand"] != "*":
        raise problems.unsupported_expand(params["$expand"])
    if params.get("$expand") and params.get("$select"):
        raise problems.unsupported_select_expand()


# -- documents -----------------------------------------------------------------------


def service_document(base_url: str, service_path: str) -> dict[str, Any]:
    return {
        "@odata.context": f"{base_url}{service_path}/$metadata",
        "value": [{"name": "Submissions", "kind": "EntitySet", "url": "Submissions"}],
    }


# -- rows ----------------------------------------------------------------------------


def _select(row_dict: dict[str, Any], select: str, form: Form) -> dict[str, Any]:
    """Central's `$select`: chosen fields (with their groups), `__id`/`__system` only when
    named."""
    wanted = [p.strip() for p in select.split(",")]
    paths = {
        "/" + "/".join(sanitize_identifier(x) for x in f.path.strip("/").split("/")): f
        for f in form.current.info.walk()
    }
    keep: set[str] = set()
    for prop in wanted:
        if prop in ("__id", "__system") or (
            prop.startswith("__system/") and prop[9:] in SYSTEM_FIELDS
        ):
            continue
        if "/" + prop not in paths:
            raise problems.property_not_found(prop)
        parts = prop.split("/")
        keep.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        keep.update(p[1:] for p in paths if p.startswith(f"/{prop}/"))

    structures = {p[1:] for p, f in paths.items() if f.type == "structure"}

    def prune(node: dict[str, Any], prefix: str) -> dict[str, Any]:
        out = {}
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key.startswith("__") or path not in keep:
                continue
            out[key] = prune(value, path + "/") if path in structures else value
        return out

    result = prune(row_dict, "")
    if "__id" in wanted:
        result["__id"] = row_dict["__id"]
    if "__system" in wanted:
        result["__system"] = row_dict["__system"]
    else:
        chosen = [p[9:] for p in wanted if p.startswith("__system/")]
        if chosen:
            result["__system"] = {k: v for k, v in row_dict["__system"].items() if k in chosen}
    return result


def _render(form: Form, sub: Submission, params: dict[str, str]) -> bytes:
    wkt = is_true(params.get("$wkt"))
    select = params.get("$select")
    if not wkt and (select is None or select == "*"):
        return row_bytes(form, sub)
    body = row(form, sub, wkt=wkt) if wkt else orjson.loads(row_bytes(form, sub))
    if select is not None and select != "*":
        body = _select(body, select, form)
    return orjson.dumps(body)


def _total(form: Form, expr: str | None, keep: Any) -> int:
    cached = form.count_cache.get(expr)
    if cached is not None and cached[0] == form.data_version:
        return cached[1]
    total = sum(1 for sub in form.ordered if keep(sub))
    if expr is None or "now(" not in expr:
        form.count_cache[expr] = (form.data_version, total)
    return total


def _envelope(rows: list[bytes], context: str, next_link: str | None, count: int | None) -> bytes:
    parts = [b'{"value":[', b",".join(rows), b'],"@odata.context":', orjson.dumps(context)]
    if next_link is not None:
        parts += [b',"@odata.nextLink":', orjson.dumps(next_link)]
    if count is not None:
        parts += [b',"@odata.count":', str(count).encode()]
    parts.append(b"}")
    return b"".join(parts)


def _sorted(form: Form, keep: Callable[[Submission], bool], orderby: str) -> list[Submission]:
    """Central's `$orderby`: asc puts nulls first, desc last; ties by insertion, in the
    first clause's direction."""
    clauses = []
    for part in orderby.split(","):
        words = part.strip().split()
        column = words[0] if words else ""
        name = column.removeprefix("$root/Submissions/")
        if name not in FIELDS:
            raise problems.unsupported_filter_field(column)
        direction = words[1].lower() if len(words) > 1 else "asc"
        if direction not in ("asc", "desc"):
            raise problems.unsupported_filter_field(words[1])
        clauses.append((FIELDS[name][0], direction == "desc"))
    rows = [sub for sub in form.ordered if keep(sub)]
    rows.sort(key=lambda sub: sub.seq, reverse=clauses[0][1])
    for attr, descending in reversed(clauses):
        rows.sort(
            key=lambda sub, a=attr: (getattr(sub, a) is not None, getattr(sub, a)),
            reverse=descending,
        )
    return rows


def submissions_page(
    form: Form, params: dict[str, str], base_url: str, raw_path: str, raw_query: str
) -> bytes:
    service_root = raw_path[: raw_path.index(".svc") + 4]
    context = f"{base_url}{service_root}/$metadata#Submissions"
    expr = params.get("$filter")
    predicate, include_deleted = compile_filter(expr)

    def keep(sub: Submission) -> bool:
        return (include_deleted or sub.deleted_us is None) and predicate(sub) is True

    top = js_int(params.get("$top"))
    token = params.get("$skiptoken")
    cursor = read_skiptoken(token) if token else None
    skip = 0 if token else max(0, js_int(params.get("$skip")) or 0)
    paging = top is not None or cursor is not None or "$skip" in params
    want_count = is_true(params.get("$count"))
    if top == 0:
        return _envelope([], context, None, _total(form, expr, keep) if want_count else None)

    orderby = params.get("$orderby")
    if orderby and cursor is not None:
        raise problems.not_implemented("using $orderby and $skiptoken together")
    if orderby:
        candidates: Iterable[Submission] = _sorted(form, keep, orderby)
    else:
        start = len(form.ordered) - 1
        if cursor is not None:
            anchor = cursor.get("instanceId")
            found = form.by_root.get(anchor) if isinstance(anchor, str) else None
            start = -1 if found is None else bisect.bisect_left(form.keys, found.key) - 1
        candidates = (form.ordered[i] for i in range(start, -1, -1))
    limit = max(0, top) if top is not None else len(form.ordered) + 1
    page: list[Submission] = []
    skipped, more = 0, False
    for sub in candidates:
        if not keep(sub):
            continue
        if skipped < skip:
            skipped += 1
        elif len(page) < limit:
            page.append(sub)
        else:
            more = True
            break

    next_link = None
    count = len(page) if not paging else None
    if paging:
        remaining = int(more) if cursor is not None else _total(form, expr, keep) - len(page)
        if remaining > 0:
            last = page[-1].instance_id if page else None
            target = with_params(
                raw_path, raw_query, {"$skip": None, "$skiptoken": make_skiptoken(last)}
            )
            next_link = f"{base_url}{target}"
        if want_count:
            count = _total(form, expr, keep)
    rows = [_render(form, sub, params) for sub in page]
    return _envelope(rows, context, next_link, count if want_count else None)


def single_row(form: Form, key: str, params: dict[str, str], base_url: str, raw_path: str) -> bytes:
    """`Submissions('uuid:...')`: the one row, in a `value` array."""
    if not (key.startswith("'") and key.endswith("'")) or len(key) < 3:
        raise problems.not_found()
    sub = form.by_root.get(key[1:-1])
    if sub is None or sub.deleted_us is not None:
        raise problems.not_found()
    service_root = raw_path[: raw_path.index(".svc") + 4]
    context = f"{base_url}{service_root}/$metadata#Submissions"
    count = 1 if is_true(params.get("$count")) else None
    return _envelope([_render(form, sub, params)], context, None, count)
