"""`CentralDouble`: the HTTP server, its state API for tests, and fault injection."""

from __future__ import annotations

import mimetypes
import socket
import sys
import threading
import traceback
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote

from tests.doubles.central import api, control, odata, problems
from tests.doubles.central.clock import Clock, to_us
from tests.doubles.central.faults import Fault, Faults, LoggedRequest, RequestLog
from tests.doubles.central.store import Blob, Store
from tests.doubles.central.wire import Request, Response, json_response, read_chunked

When = datetime | date | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CentralDouble/1"
    timeout = 120  # an idle keep-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        double = self.server.double
        req = Request(self.command, self.path, self.headers, self._read_body())
        if req.raw_path.startswith("/__double__/"):
            self._send(control.handle(double, req))
            return
        fault = double.faults.take(self.command, self.path)
        kind = fault.kind if fault else None
        if fault is not None and fault.kind == "drop":
            double.log(req, None, kind)
            self._close()
            return
        if fault is not None and fault.delay:
            double.stopping.wait(fault.delay)
        response = _fault_response(fault) if fault and fault.status else double.dispatch(req)
        if fault is not None and fault.kind == "cut":
            double.log(req, None, kind)
            self._send(response, cut=True)
            self._close()
            return
        double.log(req, response.status, kind)
        self._send(response)

    def _send(self, response: Response, cut: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        if response.status != 204:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status != 204:
            self.wfile.write(response.body[: len(response.body) // 2] if cut else response.body)
        self.wfile.flush()

    def _close(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _fault_response(fault: Fault) -> Response:
    status = fault.status or 500
    headers = {}
    if status == 429 or fault.retry_after is not None:
        headers["Retry-After"] = str(1 if fault.retry_after is None else fault.retry_after)
    return json_response(
        {"message": f"Injected fault {fault.kind}", "code": status}, status, headers
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], double: CentralDouble) -> None:
        super().__init__(address, _Handler)
        self.double = double
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up is routine here; anything else is kept for the test."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            self.double.errors.append(traceback.format_exc())

    def close_open_connections(self) -> None:
        with self._open_lock:
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class CentralDouble:
    """An ODK Central test double speaking HTTP on 127.0.0.1 (port 0 = any free port).

    >>> with CentralDouble() as central:
    ...     central.add_user("admin@example.org", "secret")
    ...     project_id = central.add_project("Cradle")
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | datetime | None = None,
        session_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._address = (host, port)
        self._clock = clock if isinstance(clock, Clock) else Clock(clock)
        self.store = Store(self._clock, session_ttl // timedelta(microseconds=1))
        self.faults = Faults()
        self._log = RequestLog()
        self.errors: list[str] = []  # tracebacks of requests that failed inside the double
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="central-double",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("CentralDouble is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- time, log -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, value: Clock | datetime | str) -> None:
        if isinstance(value, Clock):
            self._clock = self.store.clock = value
        else:
            self._clock.set(value)

    @property
    def requests(self) -> list[LoggedRequest]:
        return self._log.snapshot()

    def clear_requests(self) -> None:
        self._log.clear()

    def log(self, req: Request, status: int | None, fault: str | None) -> None:
        self._log.append(
            LoggedRequest(req.method, unquote(req.raw_path), dict(req.params), status, fault)
        )

    def dispatch(self, req: Request) -> Response:
        try:
            return api.handle(self.store, req, self.base_url)
        except problems.Problem as problem:
            return json_response(problem.body(), problem.status)
        except Exception:  # an unexpected failure must reach the test, not kill the server
            self.errors.append(traceback.format_exc())
            body = {
                "message": "An unknown internal problem has occurred. Please try again later.",
                "code": 500.1,
            }
            return json_response(body, 500)

    # -- state API -----------------------------------------------------------------

    def add_user(
        self,
        email: str,
        password: str,
        *,
        display_name: str | None = None,
        projects: list[int] | None = None,
    ) -> int:
        """A web user (pyodk logs in as one); `projects` limits what it may see (403.1)."""
        with self.store.lock:
            return self.store.add_user(email, password, display_name, projects).id

    def add_project(self, name: str, *, description: str | None = None) -> int:
        with self.store.lock:
            return self.store.add_project(name, description).id

    def add_app_user(self, project_id: int, display_name: str, token: str | None = None) -> str:
        """An app user (ODK Collect); returns its token for `/v1/key/{token}/...`."""
        with self.store.lock:
            return self.store.add_app_user(project_id, display_name, token).token or ""

    def add_form(self, project_id: int, xform_xml: bytes | str, *, at: When = None) -> str:
        """Publish an XForm (again with a new version to publish that version)."""
        raw = xform_xml.encode() if isinstance(xform_xml, str) else xform_xml
        with self.store.lock:
            return self.store.add_form(project_id, raw, _at(at)).xml_form_id

    def submit(
        self,
        project_id: int,
        form_id: str,
        instance_xml: bytes | str,
        attachments: dict[str, bytes] | None = None,
        *,
        submitter: str | None = None,
        device_id: str | None = None,
        user_agent: str | None = None,
        at: When = None,
    ) -> str:
        """Receive a submission as Collect sends it; returns its `__id`.

        Central's rules: the same instanceID with identical XML changes nothing (attachments
        may top up), with different XML raises 409.1; `meta/deprecatedID` naming the current
        version makes an edit, naming an older one raises 409.9. `submitter` is a user's
        email or an app user's name (created on first use; default "collector").
        """
        raw = instance_xml.encode() if isinstance(instance_xml, str) else instance_xml
        blobs = {name: Blob(data, _guess_type(name)) for name, data in (attachments or {}).items()}
        with self.store.lock:
            project = self.store.project(project_id)
            actor = self.store.submitter(project, submitter)
            sub = self.store.receive(
                project,
                raw,
                blobs,
                actor,
                form_id=form_id,
                device_id=device_id,
                user_agent=user_agent,
                at=_at(at),
            )
            return sub.instance_id

    def set_review_state(
        self,
        project_id: int,
        form_id: str,
        instance_id: str,
        state: str | None,
        *,
        at: When = None,
    ) -> None:
        with self.store.lock:
            form = self.store.project(project_id).form(form_id)
            self.store.review(form, instance_id, state, _at(at))

    def soft_delete(
        self, project_id: int, form_id: str, instance_id: str, *, at: When = None
    ) -> None:
        with self.store.lock:
            self.store.delete(self.store.project(project_id).form(form_id), instance_id, _at(at))

    def restore(self, project_id: int, form_id: str, instance_id: str) -> None:
        with self.store.lock:
            self.store.restore(self.store.project(project_id).form(form_id), instance_id)

    def row(self, project_id: int, form_id: str, instance_id: str) -> dict[str, Any]:
        """The submission's OData row as the feed would serve it (deleted ones too)."""
        with self.store.lock:
            form = self.store.project(project_id).form(form_id)
            sub = form.by_root.get(instance_id)
            if sub is None:
                raise problems.not_found()
            return odata.row(form, sub)

    def load_state(self, state: dict[str, Any] | str | Path) -> dict[str, Any]:
        """Add users, projects, forms, submissions and faults from a state document
        (see `tests.doubles.central` for its format); returns ids created."""
        return control.load_state(self, state)


def _at(at: When) -> int | None:
    return None if at is None else to_us(at)


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
