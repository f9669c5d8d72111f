"""Client behaviour that needs no CouchDB: URL handling and retries (against a tiny local
HTTP server that fails on purpose)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync.couch import CouchClient, CouchSettings, _in_request_order, doc_path
from sync.errors import CouchError, CouchUnavailable


def test_settings_split_credentials_out_of_the_url() -> None:
    s = CouchSettings.from_url("http://ad%40min:p%3Ass@couch.example:6984/prefix/")
    assert (s.url, s.username, s.password) == ("http://couch.example:6984/prefix", "ad@min", "p:ss")
    assert "p:ss" not in repr(s)
    explicit = CouchSettings.from_url("http://127.0.0.1:5984", "u", "p")
    assert (explicit.url, explicit.username, explicit.password) == (
        "http://127.0.0.1:5984",
        "u",
        "p",
    )


def test_doc_path_quotes_ids_but_keeps_design_prefix() -> None:
    assert doc_path("uuid:a/b c") == "uuid%3Aa%2Fb%20c"
    assert doc_path("_design/cradle") == "_design/cradle"
    assert doc_path("_local/ck/1") == "_local/ck%2F1"


def test_bulk_results_are_lined_up_with_the_documents_sent() -> None:
    # PouchDB Server has answered a conflict, then a new document, then an update.
    docs = [{"_id": "d0"}, {"_id": "d1", "_rev": "1-a"}, {"_id": "d5"}]
    rows = [
        {"id": "d0", "error": "conflict"},
        {"id": "d5", "rev": "1-c"},
        {"id": "d1", "rev": "2-b"},
    ]
    assert [r["id"] for r in _in_request_order(rows, docs)] == ["d0", "d1", "d5"]
    twice = [{"_id": "x"}, {"_id": "x"}]
    answered = [{"id": "x", "rev": "1-a"}, {"id": "x", "error": "conflict"}]
    assert _in_request_order(answered, twice) == answered
    with pytest.raises(CouchError, match="do not match"):
        _in_request_order([{"id": "d0"}, {"id": "zz"}, {"id": "d1"}], docs)


class _Flaky(BaseHTTPRequestHandler):
    plan: list[int] = []
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        status = type(self).plan.pop(0) if type(self).plan else 200
        body = json.dumps({"error": "boom", "reason": "planned"} if status >= 400 else {"v": 1})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Flaky.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_5xx_is_retried_then_succeeds(flaky: str) -> None:
    _Flaky.plan = [503, 500]
    with CouchClient(CouchSettings(flaky, "u", "p", retries=3, backoff=0.001)) as client:
        assert client.server_info() == {"v": 1}
    assert len(_Flaky.seen) == 3
    assert all(h.startswith("Basic ") for h in _Flaky.seen)  # every request authenticates


def test_persistent_5xx_ends_in_unavailable_with_couchdb_reason(flaky: str) -> None:
    _Flaky.plan = [503, 503, 503]
    with CouchClient(CouchSettings(flaky, "u", "p", retries=2, backoff=0.001)) as client:
        with pytest.raises(CouchUnavailable) as err:
            client.server_info()
    assert str(err.value) == f"CouchDB GET {flaky}/ failed (HTTP 503): boom: planned"
    assert len(_Flaky.seen) == 3


def test_4xx_is_not_retried(flaky: str) -> None:
    _Flaky.plan = [400]
    with CouchClient(CouchSettings(flaky, "u", "p", retries=3, backoff=0.001)) as client:
        with pytest.raises(Exception, match="HTTP 400"):
            client.server_info()
    assert len(_Flaky.seen) == 1
