"""A lease lock per sync source, as one document in the `state` database.

Taking the lock is a write with the `_rev` that was read, so of two runs racing for it
CouchDB lets exactly one win (the other gets 409). The holder renews the lease from a
background thread while it runs; a run that dies stops renewing, and its lease expires
after `ttl` seconds. A holder on this same host whose process is gone is recognised at
once, so a killed run does not block the next one for a whole lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync.couch import Database
from sync.errors import CouchConflict, CouchError, LeaseLost, SourceBusy

log = logging.getLogger(__name__)

DEFAULT_TTL = 60.0


def lock_id(name: str) -> str:
    return f"lock:central:{name}"


def _iso(epoch: float) -> str:
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_live(doc: dict[str, Any] | None, now: float, host: str | None = None) -> bool:
    """Whether a lock document is still held: an owner, an unexpired lease and, when the
    holder is on this host, a running process."""
    if not doc or not doc.get("owner"):
        return False
    if float(doc.get("expires", 0)) <= now:
        return False
    this_host = host or socket.gethostname()
    pid = doc.get("pid")
    return not (doc.get("host") == this_host and isinstance(pid, int) and not process_alive(pid))


@dataclass
class Lease:
    """A held lock; `renew()` extends it, `release()` gives it up."""

    db: Database
    name: str
    owner: str
    ttl: float
    rev: str
    previous: dict[str, Any] | None = None  # the holder this lease replaced, if any
    clock: Callable[[], float] = time.time
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _doc(self, expires: float) -> dict[str, Any]:
        now = self.clock()
        return {
            "_id": lock_id(self.name),
            "_rev": self.rev,
            "type": "sync_lock",
            "source": self.name,
            "owner": self.owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "renewed_at": _iso(now),
            "expires": expires,
            "expires_at": _iso(expires),
        }

    def renew(self) -> None:
        """Extend the lease by `ttl`; `LeaseLost` when another run took it meanwhile."""
        with self._lock:
            if self.lost:
                raise LeaseLost(f"the lock of source {self.name!r} was taken by another run")
            try:
                self.rev = self.db.put(self._doc(self.clock() + self.ttl))
            except CouchConflict as e:
                self.lost = True
                raise LeaseLost(f"the lock of source {self.name!r} was taken by another run") from e

    def check(self) -> None:
        """Raise `LeaseLost` if the lease was lost (call before each durable write)."""
        if self.lost:
            raise LeaseLost(f"the lock of source {self.name!r} was taken by another run")

    def release(self) -> None:
        """Stop renewing and free the lock (keeping the document, so `_rev` keeps order)."""
        self.stop_renewing()
        with self._lock:
            if self.lost:
                return
            doc = {**self._doc(0.0), "owner": None, "expires": 0.0}
            try:
                self.rev = self.db.put(doc)
            except CouchError as e:  # lost or unreachable: it expires by itself
                log.warning("could not release the lock of %s: %s", self.name, e)

    def start_renewing(
        self, every: float | None = None, on_renew: Callable[[], None] | None = None
    ) -> None:
        """Renew from a background thread every `ttl / 3` seconds until released;
        `on_renew` runs after each renewal (the run record's heartbeat)."""
        interval = every if every is not None else self.ttl / 3

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.renew()
                    if on_renew is not None:
                        on_renew()
                except LeaseLost:
                    log.error("lost the lock of source %s", self.name)
                    return
                except CouchError as e:  # keep trying: the lease outlives a short outage
                    log.warning("could not renew the lock of %s: %s", self.name, e)

        self._thread = threading.Thread(target=loop, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def stop_renewing(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(
    db: Database,
    name: str,
    owner: str,
    *,
    ttl: float = DEFAULT_TTL,
    clock: Callable[[], float] = time.time,
    on_take_over: Callable[[dict[str, Any]], None] | None = None,
) -> Lease:
    """Take the lock of source `name` for `owner` (a run id), or raise `SourceBusy`.

    The lock is free when it has no owner, its lease expired, its holder's process on
    this host is gone, or `owner` already holds it (a run taking over the lock that the
    API took on its behalf). `on_take_over(previous)` runs before the lock changes hands
    from a run that died holding it: were it to run after, a run killed in between would
    leave the dead holder's run record unclosed for good.
    """
    doc_id = lock_id(name)
    current = db.get(doc_id)
    now = clock()
    if current is not None and current.get("owner") != owner and is_live(current, now):
        raise SourceBusy(
            f"source {name!r} is already being synced by run {current.get('owner')} "
            f"(pid {current.get('pid')} on {current.get('host')}, lease until "
            f"{current.get('expires_at')})"
        )
    held_before = current if current and current.get("owner") not in (None, owner) else None
    if held_before is not None and on_take_over is not None:
        on_take_over(held_before)
    lease = Lease(db, name, owner, ttl, rev=(current or {}).get("_rev", ""), clock=clock)
    doc = lease._doc(now + ttl)
    if current is None:
        doc.pop("_rev")
    try:
        lease.rev = db.put(doc)
    except CouchConflict as e:
        raise SourceBusy(f"source {name!r} was just locked by another run") from e
    lease.previous = held_before
    return lease


def holder(db: Database, name: str, *, clock: Callable[[], float] = time.time) -> dict | None:
    """The lock document if someone holds it now, else None."""
    doc = db.get(lock_id(name))
    return doc if is_live(doc, clock()) else None
