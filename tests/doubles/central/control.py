"""The test's back door: `/__double__/...` endpoints (no auth) and state documents.

Both drive the same state API as the Python methods of `CentralDouble`, so a test can
steer a double running in another process exactly as it steers one in-process.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tests.doubles.central import problems
from tests.doubles.central.clock import from_us, iso_ms, parse_iso
from tests.doubles.central.wire import Request, Response, json_response

if TYPE_CHECKING:
    from tests.doubles.central.double import CentralDouble


def _when(value: str | None) -> Any:
    return None if value is None else from_us(parse_iso(value))


def _text(item: dict[str, Any], base: Path | None, key: str = "xml") -> bytes:
    if key in item:
        return item[key].encode() if isinstance(item[key], str) else bytes(item[key])
    path = Path(item["path"])
    return (path if base is None or path.is_absolute() else base / path).read_bytes()


def submit_one(double: CentralDouble, item: dict[str, Any], base: Path | None = None) -> str:
    attachments = {
        name: base64.b64decode(data) for name, data in (item.get("attachments") or {}).items()
    }
    pid, fid = int(item["project_id"]), item["form_id"]
    iid = double.submit(
        pid,
        fid,
        _text(item, base),
        attachments,
        submitter=item.get("submitter"),
        device_id=item.get("device_id"),
        user_agent=item.get("user_agent"),
        at=_when(item.get("at")),
    )
    if "review_state" in item:
        double.set_review_state(
            pid, fid, iid, item["review_state"], at=_when(item.get("reviewed_at"))
        )
    if item.get("deleted_at"):
        double.soft_delete(pid, fid, iid, at=_when(item["deleted_at"]))
    return iid


def set_clock(double: CentralDouble, body: dict[str, Any]) -> dict[str, Any]:
    clock = double.clock
    if body.get("unfreeze"):
        clock.unfreeze()
    if "set" in body:
        clock.set(body["set"])
    if "advance" in body:
        clock.advance(seconds=float(body["advance"]))
    if "tick_ms" in body:
        clock.tick = timedelta(milliseconds=float(body["tick_ms"]))
    return {"now": iso_ms(clock.peek_us()), "frozen": clock.frozen}


def add_faults(double: CentralDouble, body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body["faults"] if "faults" in body else [body]
    return [
        double.faults.add(
            f["path"],
            f["kind"],
            int(f.get("times", 1)),
            method=f.get("method"),
            retry_after=f.get("retry_after"),
        ).as_dict()
        for f in items
    ]


def load_state(double: CentralDouble, state: dict[str, Any] | str | Path) -> dict[str, Any]:
    base = None
    if not isinstance(state, dict):
        base = Path(state).resolve().parent
        state = orjson.loads(Path(state).read_bytes())
    created: dict[str, Any] = {"users": [], "projects": [], "forms": [], "submissions": []}
    clock = state.get("clock")
    if clock is not None:
        set_clock(double, {"set": clock} if isinstance(clock, str) else clock)
    for user in state.get("users", []):
        created["users"].append(
            double.add_user(
                user["email"],
                user["password"],
                display_name=user.get("display_name"),
                projects=user.get("projects"),
            )
        )
    for project in state.get("projects", []):
        pid = double.add_project(project["name"], description=project.get("description"))
        created["projects"].append(pid)
        for app_user in project.get("app_users", []):
            double.add_app_user(pid, app_user["display_name"], app_user.get("token"))
        for form in project.get("forms", []):
            created["forms"].append(double.add_form(pid, _text(form, base)))
    for item in state.get("submissions", []):
        created["submissions"].append(submit_one(double, item, base))
    if state.get("faults"):
        add_faults(double, {"faults": state["faults"]})
    return created


def handle(double: CentralDouble, req: Request) -> Response:
    """Route `/__double__/{name}`; errors come back as Central problems or a plain 400."""
    name, method = "/".join(req.segments[1:]), req.method
    try:
        body = req.json() if req.body else {}
        return _route(double, name, method, body)
    except problems.Problem as problem:
        return json_response(problem.body(), problem.status)
    except (KeyError, TypeError, ValueError, OSError) as e:
        return json_response({"message": f"{type(e).__name__}: {e}", "code": 400}, 400)


def _route(double: CentralDouble, name: str, method: str, body: Any) -> Response:
    if name == "health":
        return json_response({"ok": True, "baseUrl": double.base_url})
    if name == "state" and method == "POST":
        return json_response(load_state(double, body), 201)
    if name == "users" and method == "POST":
        uid = double.add_user(
            body["email"],
            body["password"],
            display_name=body.get("display_name"),
            projects=body.get("projects"),
        )
        return json_response({"id": uid}, 201)
    if name == "projects" and method == "POST":
        return json_response(
            {"id": double.add_project(body["name"], description=body.get("description"))}, 201
        )
    if name == "app-users" and method == "POST":
        token = double.add_app_user(
            int(body["project_id"]), body["display_name"], body.get("token")
        )
        return json_response({"token": token}, 201)
    if name == "forms" and method == "POST":
        fid = double.add_form(int(body["project_id"]), _text(body, None))
        return json_response({"xmlFormId": fid}, 201)
    if name == "submit" and method == "POST":
        if "submissions" in body:
            ids = [submit_one(double, item) for item in body["submissions"]]
            return json_response({"instanceIds": ids}, 201)
        return json_response({"instanceId": submit_one(double, body)}, 201)
    if name in ("review", "delete", "restore") and method == "POST":
        pid, fid, iid = int(body["project_id"]), body["form_id"], body["instance_id"]
        if name == "review":
            double.set_review_state(pid, fid, iid, body.get("state"), at=_when(body.get("at")))
        elif name == "delete":
            double.soft_delete(pid, fid, iid, at=_when(body.get("at")))
        else:
            double.restore(pid, fid, iid)
        return json_response({"success": True})
    if name == "clock" and method in ("GET", "POST"):
        return json_response(set_clock(double, body if method == "POST" else {}))
    if name == "faults":
        if method == "POST":
            return json_response(add_faults(double, body), 201)
        if method == "DELETE":
            double.faults.clear()
        return json_response(double.faults.as_list())
    if name == "requests":
        if method == "DELETE":
            double.clear_requests()
        return json_response([r.as_dict() for r in double.requests])
    if name == "errors" and method == "GET":
        return json_response(double.errors)
    raise problems.not_found()
