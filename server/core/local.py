"""The server's local state kept from CouchDB's change feed (`sync.follow`), one per process.

Each projection lives in `<DATA_DIR>/local-state/<prefix>/<name>.sqlite3`, shared by every
worker on the host. `local_state(...)` hands out one `FeedState` per (prefix, database,
projection) and process; `reset_local_states()` forgets them when settings change (tests).
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from server.core.couch import cradle_db, get_couch
from sync.follow import FeedState, Projection

_lock = threading.Lock()
_states: dict[tuple[str, str, str, str, int], FeedState] = {}


def local_dir() -> Path:
    """Where this server's local state lives, per set of Cradle databases."""
    prefix = settings.COUCHDB["DB_PREFIX"].rstrip("_") or "default"
    return Path(settings.DATA_DIR) / "local-state" / prefix


def local_state(db_key: str, projection: Projection) -> FeedState:
    """The process-wide `FeedState` of `projection` over Cradle's database `db_key`."""
    directory = local_dir()
    # the client too: a state must not keep a client that settings have replaced
    key = (str(directory), db_key, projection.name, projection.version, id(get_couch()))
    with _lock:
        state = _states.get(key)
        if state is None:
            state = FeedState(directory, cradle_db(db_key), projection)
            _states[key] = state
        return state


def reset_local_states() -> None:
    """Forget every state handle (their files stay); the next call opens them anew."""
    with _lock:
        for state in _states.values():
            state.close()
        _states.clear()
