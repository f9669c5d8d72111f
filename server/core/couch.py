"""The server's handle on CouchDB: one client per process, built from settings."""

from __future__ import annotations

import threading

from django.conf import settings

from sync.couch import CouchClient, CouchSettings, Database
from sync.schema import db_name

_lock = threading.Lock()
_client: CouchClient | None = None


def couch_settings() -> CouchSettings:
    conf = settings.COUCHDB
    return CouchSettings.from_url(
        conf["URL"],
        username=conf["USER"],
        password=conf["PASSWORD"],
        timeout=conf["TIMEOUT"],
        retries=conf["RETRIES"],
    )


def get_couch() -> CouchClient:
    """The process-wide client (httpx pools connections and is thread-safe)."""
    global _client
    with _lock:
        if _client is None:
            _client = CouchClient(couch_settings())
        return _client


def reset_couch() -> None:
    """Drop the client so the next call rebuilds it from (changed) settings."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


def cradle_db(key: str) -> Database:
    """One of Cradle's databases, e.g. `cradle_db("submissions")`."""
    return get_couch().db(db_name(settings.COUCHDB["DB_PREFIX"], key))
