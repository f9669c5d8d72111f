"""Time for the Central double: a settable clock and Central's timestamp format.

Timestamps are kept as integer microseconds since the epoch, as PostgreSQL keeps them,
and written the way Central's JSON does (JavaScript `Date`): truncated to milliseconds,
UTC, `Z`. So `__system/submissionDate gt <a row's own serialized date>` can still match
that row when its stored time has sub-millisecond digits, exactly as on real Central.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def to_us(value: datetime | date) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def iso_ms(us: int | None) -> str | None:
    """Central's JSON timestamp: `2026-11-28T13:26:41.355Z` (milliseconds, truncated)."""
    if us is None:
        return None
    ms = us // 1000
    moment = EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso(text: str) -> int:
    """Parse an ISO 8601 date or date-time (any offset, any fraction) to microseconds.

    A bare date is midnight UTC, as PostgreSQL casts it on a UTC server.
    """
    match = _ISO.match(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro
    )
    offset = timedelta(0)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return to_us(moment.replace(tzinfo=UTC) - offset)


class Clock:
    """The double's notion of "now" (Central's `clock_timestamp()`).

    Follows real time until `set()` freezes it; a frozen clock moves only by
    `advance()`, or by `tick` after every reading (e.g. `tick=timedelta(milliseconds=1)`
    gives every event its own deterministic timestamp).
    """

    def __init__(self, start: datetime | None = None, tick: timedelta = timedelta(0)) -> None:
        self._lock = threading.Lock()
        self._frozen: int | None = None if start is None else to_us(start)
        self.tick = tick

    def now_us(self) -> int:
        with self._lock:
            if self._frozen is None:
                return to_us(datetime.now(UTC))
            value = self._frozen
            self._frozen += self.tick // _US
            return value

    def peek_us(self) -> int:
        """The current reading without moving a ticking clock."""
        with self._lock:
            return to_us(datetime.now(UTC)) if self._frozen is None else self._frozen

    def now(self) -> datetime:
        return from_us(self.now_us())

    def set(self, moment: datetime | str) -> None:
        with self._lock:
            self._frozen = parse_iso(moment) if isinstance(moment, str) else to_us(moment)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> None:
        """Move a frozen clock forward, e.g. `advance(seconds=5)` (freezes a real one first)."""
        step = (delta or timedelta(0)) + timedelta(**kwargs)
        with self._lock:
            if self._frozen is None:
                self._frozen = to_us(datetime.now(UTC))
            self._frozen += step // _US

    def unfreeze(self) -> None:
        with self._lock:
            self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None
