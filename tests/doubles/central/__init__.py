"""An HTTP test double of ODK Central (v2026.2.2) that the real `pyodk` client talks to.

In-process::

    with CentralDouble() as central:           # 127.0.0.1, a free port
        central.add_user("admin@example.org", "secret")
        pid = central.add_project("Cradle")
        fid = central.add_form(pid, xform_bytes)
        iid = central.submit(pid, fid, instance_bytes, at=datetime(2026, 11, 28, 13, 0))
        central.clock.set(datetime(2026, 11, 29, tzinfo=UTC))   # or central.clock = ...
        central.faults.add(r"\\.svc/Submissions", "status:429", times=1, retry_after=0)
        ... pyodk Client with base_url=central.base_url ...
        central.requests                       # [LoggedRequest(method, path, query, ...)]

As a process (prints the base URL on stdout once listening)::

    python -m tests.doubles.central --port 0 --state state.json

Back door (no auth; JSON bodies; timestamps ISO 8601; errors as Central problems):

    GET    /__double__/health                   {"ok", "baseUrl"}
    POST   /__double__/state                    a state document (below) -> ids created
    POST   /__double__/users                    {email, password, display_name?, projects?}
    POST   /__double__/projects                 {name, description?} -> {id}
    POST   /__double__/app-users                {project_id, display_name, token?} -> {token}
    POST   /__double__/forms                    {project_id, xml} -> {xmlFormId}
    POST   /__double__/submit                   {project_id, form_id, xml, attachments?:
                                                 {name: base64}, submitter?, device_id?,
                                                 user_agent?, at?, review_state?, deleted_at?}
                                                 or {"submissions": [...]} -> instance ids
    POST   /__double__/review                   {project_id, form_id, instance_id, state, at?}
    POST   /__double__/delete                   {project_id, form_id, instance_id, at?}
    POST   /__double__/restore                  {project_id, form_id, instance_id}
    GET|POST /__double__/clock                  {set?: iso, advance?: seconds, tick_ms?,
                                                 unfreeze?: true} -> {now, frozen}
    GET|POST|DELETE /__double__/faults          {path, kind, times?, method?, retry_after?}
                                                 or {"faults": [...]}
    GET|DELETE /__double__/requests             the request log
    GET    /__double__/errors                   tracebacks of requests the double failed

State document (file for `--state`, or body of `POST /__double__/state`)::

    {"clock": "2026-11-28T13:00:00.000Z",          # or {"set": ..., "tick_ms": 1}
     "users": [{"email": ..., "password": ..., "display_name"?: ..., "projects"?: [1]}],
     "projects": [{"name": ..., "app_users"?: [{"display_name": ..., "token"?: ...}],
                   "forms": [{"xml": "<h:html ..."} | {"path": "relative/to/state.xml"}]}],
     "submissions": [{"project_id": 1, "form_id": ..., "xml" | "path": ..., ...as submit}],
     "faults": [{"path": ..., "kind": ..., "times": 1}]}

Projects are numbered 1, 2, ... in the order they are added; so are actors (users and
app users together). `submit(submitter=None)` submits as the app user "collector".

Paging with pyodk 1.3.0: `get_table` does not follow `@odata.nextLink` and takes no
`$skiptoken`; follow the link with `client.session.get(link).json()` (the session keeps
an absolute URL as is and adds the bearer token; it does not raise on an error status).
pyodk mounts its retrying adapter (429/5xx, honouring Retry-After) only for https://, so
against this plain-HTTP double it does not retry unless a test mounts
`pyodk._utils.session.Adapter` on http:// itself.

Reproduced from Central (central-backend sources): error bodies and codes; rows newest
first with `$skiptoken` = "01" + base64 of {"instanceId"} and nextLink rules (including
a link after `$skip` that leads to an empty page, as Central does); `@odata.count` over
the whole filter; microsecond timestamps compared as PostgreSQL does while JSON shows
milliseconds (so `gt` a row's shown date can match that row); deleted rows hidden unless
the filter names `__system/deletedAt`; OpenRosa duplicate/edit rules and responses;
DTDs and unknown entities kept as literal text; sessions expiring after 24 h of the
double's clock; `$orderby` on `__system` fields.

Known deviations: repeats are not served (rows carry the navigation link only;
`Submissions.<repeat>` tables and `$expand=*` contents are absent); no ETag/304, no gzip,
no form drafts, encryption, entities, comments, audits or submission versions endpoints;
an instance ID of an older version in a REST URL is 404 rather than a redirect; an
invalid reviewState is 400.8 (Central fails with 500); roles are reduced to "a user sees
all projects or the ones listed"; `$search` is ignored.
"""

from tests.doubles.central.clock import Clock
from tests.doubles.central.double import CentralDouble
from tests.doubles.central.faults import Fault, Faults, LoggedRequest
from tests.doubles.central.problems import Problem

__all__ = ["CentralDouble", "Clock", "Fault", "Faults", "LoggedRequest", "Problem"]
