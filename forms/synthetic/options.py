"""What to generate: the options of `cradle demo generate`, checked once, and the one error type."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from forms.contract import EARLIEST_DOB

#: Bumped whenever the same options would give different output.
GENERATOR_VERSION = "1"
DEFAULT_UNTIL = date(2026, 11, 27)
DEFAULT_YEARS = (2025, 2026)
DEFAULT_SEED = 20261127


class SyntheticError(ValueError):
    """Options that cannot be honoured, or a load whose outcome differs from the truth."""


@dataclass(frozen=True)
class Options:
    """Everything that decides the generated data; the same options give the same bytes.

    Births come from the registry's `expected_births` per township and year times
    `scale`, or are spread over `children` in total. `counties` keeps the first N
    counties by code, `townships` names townships; neither means all. Fault rates are
    shares of submissions: 0 switches a fault off.
    """

    seed: int = DEFAULT_SEED
    counties: int | None = None
    townships: tuple[str, ...] = ()
    years: tuple[int, ...] = DEFAULT_YEARS
    until: date = DEFAULT_UNTIL
    scale: float = 1.0
    children: int | None = None
    duplicates: float = 0.0
    edits: float = 0.0
    late: float = 0.0
    invalid: float = 0.0

    def check(self, today: date) -> Options:
        """This object, or `SyntheticError` naming the first option that cannot work."""
        if self.until > today:
            raise SyntheticError(f"--until {self.until} is after today ({today})")
        if not self.years:
            raise SyntheticError("--years needs at least one year")
        for year in self.years:
            if year < EARLIEST_DOB.year or year > self.until.year:
                raise SyntheticError(
                    f"--years {year} must be between {EARLIEST_DOB.year} and {self.until.year}"
                )
        if self.counties is not None and self.counties < 1:
            raise SyntheticError("--counties must be at least 1")
        if self.counties is not None and self.townships:
            raise SyntheticError("use --counties or --townships, not both")
        if self.scale <= 0:
            raise SyntheticError("--scale must be positive")
        if self.children is not None and self.children < 1:
            raise SyntheticError("--children must be at least 1")
        for name in ("duplicates", "edits", "late", "invalid"):
            rate = getattr(self, name)
            if not 0 <= rate < 1:
                raise SyntheticError(f"--{name} must be a rate in [0, 1), got {rate}")
        return self

    def as_json(self) -> dict[str, Any]:
        """The options as JSON-ready values, for the manifest."""
        data = asdict(self)
        data["until"] = self.until.isoformat()
        data["townships"] = list(self.townships)
        data["years"] = list(self.years)
        return data
