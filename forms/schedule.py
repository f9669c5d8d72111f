"""The vaccine schedule: one data file (`schedule.toml`) read by the forms build and the analytics.

>>> schedule = load_schedule()
>>> schedule.dose("hepb3").due_months
6
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("schedule.toml")

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_DOSE_KEYS = frozenset({"code", "name_zh", "name_en", "due_months", "order"})
_WINDOW_KEYS = frozenset({"grace_days", "nutrition_gap_days"})


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose of the national schedule; `code` is a choice value of `doses_given`."""

    code: str
    name_zh: str
    name_en: str
    due_months: int
    order: int


@dataclass(frozen=True, slots=True)
class Windows:
    """Time windows used by the analytics, in days."""

    grace_days: int
    nutrition_gap_days: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """The doses in schedule order, and the analytic time windows."""

    doses: tuple[Dose, ...]
    windows: Windows

    @property
    def codes(self) -> tuple[str, ...]:
        """Dose codes in schedule order."""
        return tuple(d.code for d in self.doses)

    def dose(self, code: str) -> Dose:
        """The dose with this code; `KeyError` if the schedule has none."""
        for d in self.doses:
            if d.code == code:
                return d
        raise KeyError(code)


def load_schedule(path: Path | None = None) -> Schedule:
    """Read and check the schedule file (default: `forms/schedule.toml`).

    Raises `ValueError` (a `tomllib.TOMLDecodeError` for bad TOML) naming the file and
    the offending entry when the file does not describe a valid schedule.
    """
    path = DEFAULT_PATH if path is None else Path(path)
    with path.open("rb") as f:
        data = tomllib.load(f)
    try:
        return _parse(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


def _parse(data: dict[str, Any]) -> Schedule:
    unknown = set(data) - {"doses", "windows"}
    if unknown:
        raise ValueError(f"unknown top-level keys {sorted(unknown)}")
    windows = _parse_windows(data.get("windows"))
    raw_doses = data.get("doses")
    if not isinstance(raw_doses, list) or not raw_doses:
        raise ValueError("no [[doses]] entries")
    doses = tuple(_parse_dose(i, raw) for i, raw in enumerate(raw_doses, start=1))
    codes = [d.code for d in doses]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"duplicate dose codes {duplicates}")
    orders = [d.order for d in doses]
    if orders != list(range(1, len(doses) + 1)):
        raise ValueError(f"dose orders must run 1, 2, 3, ... in file order, got {orders}")
    return Schedule(doses=doses, windows=windows)


def _parse_windows(raw: object) -> Windows:
    if not isinstance(raw, dict):
        raise ValueError("missing [windows] table")
    keys = set(raw)
    if keys != _WINDOW_KEYS:
        raise ValueError(f"[windows] needs exactly {sorted(_WINDOW_KEYS)}, got {sorted(keys)}")
    for key in sorted(keys):
        if not _is_int(raw[key]) or raw[key] < 0:
            raise ValueError(f"[windows] {key} must be a non-negative integer")
    return Windows(grace_days=raw["grace_days"], nutrition_gap_days=raw["nutrition_gap_days"])


def _parse_dose(position: int, raw: object) -> Dose:
    where = f"dose #{position}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not a table")
    if set(raw) != _DOSE_KEYS:
        raise ValueError(f"{where} needs exactly {sorted(_DOSE_KEYS)}, got {sorted(raw)}")
    code = raw["code"]
    if not isinstance(code, str) or not _CODE.match(code):
        raise ValueError(f"{where}: code {code!r} must match {_CODE.pattern}")
    for key in ("name_zh", "name_en"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ValueError(f"{where} ({code}): {key} must be a non-empty string")
    for key in ("due_months", "order"):
        if not _is_int(raw[key]) or raw[key] < 0:
            raise ValueError(f"{where} ({code}): {key} must be a non-negative integer")
    return Dose(
        code=code,
        name_zh=raw["name_zh"],
        name_en=raw["name_en"],
        due_months=raw["due_months"],
        order=raw["order"],
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
