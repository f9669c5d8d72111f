"""The indicator definitions (`indicators.toml`) and the vaccine schedule, read and checked once.

>>> config = load_config()
>>> config.indicator("imm_hepb3").target
0.95
>>> config.indicator("imm_hepb3").cohort.min_months
7
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from analytics import columns as C
from analytics.errors import AnalyticsError
from forms.contract import FORM_IDS
from forms.registry import TARGET_COLUMNS
from forms.schedule import Schedule, load_schedule

DEFAULT_PATH = Path(__file__).with_name("indicators.toml")
ENV_DATA_DIR = "CRADLE_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".data"

OPS = frozenset({"<", "<=", ">", ">=", "==", "!=", "in", "not_in", "between", "notna", "isna"})
DIRECTIONS = frozenset({">=", "<="})
WINDOWS = frozenset({"period", "until_E", "any"})
PICKS = frozenset({"latest", "all"})
TABLES = frozenset({"records", "doses"})
DERIVED = frozenset({C.AGE_DAYS, C.AGE_MONTHS, C.LAZ, C.WAZ})
#: Columns a condition may name.
CONDITION_COLUMNS = frozenset(
    {C.data(name) for name in C.DATA_FIELDS} | DERIVED | {C.FORM_ID, C.SOURCE, C.EDITS}
)


@dataclass(frozen=True)
class Condition:
    """`column op value`, e.g. `Condition("data.packs_given", ">", 0)`."""

    column: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Cohort:
    """Which children can count. `min_months <= age on E < max_months` when `age_at` is set."""

    born_in_period: bool = False
    min_months: int | None = None
    max_months: int | None = None

    @property
    def any_child(self) -> bool:
        return not self.born_in_period and self.min_months is None and self.max_months is None


@dataclass(frozen=True)
class Evidence:
    """Which of a child's records (or doses) matter, and whether only the latest one."""

    table: str = "records"
    forms: tuple[str, ...] = ()
    dose: str | None = None
    window: str = "any"
    where: tuple[Condition, ...] = ()
    pick: str = "all"


@dataclass(frozen=True)
class AllDoses:
    """Numerator: every one of `doses` recorded before `before_age_months`."""

    doses: tuple[str, ...]
    before_age_months: int


HAS_EVIDENCE = "has_evidence"


@dataclass(frozen=True)
class Indicator:
    """One indicator of INDICATORS.md (see the header of `indicators.toml`)."""

    id: str
    programme: str
    name_zh: str
    name_en: str
    definition_zh: str
    definition_en: str
    direction: str
    cohort: Cohort
    denominator: str  # "cohort" | "evidence"
    numerator: str | tuple[Condition, ...] | AllDoses
    evidence: Evidence | None = None
    eligible: tuple[Condition, ...] = ()
    target: float | None = None
    target_population: str | None = None
    prorate: bool = False
    order: int = 0


@dataclass(frozen=True)
class Programme:
    id: str
    name_zh: str
    name_en: str
    order: int
    sheet: str = ""  # short bilingual name for a spreadsheet tab


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Shanghai"
    small_denominator: int = 20
    confidence: float = 0.95
    exclude_weight_when_oedema: bool = True


@dataclass(frozen=True)
class AnalyticsConfig:
    """Every indicator in report order, the programmes, the forms' own dates, the settings."""

    indicators: tuple[Indicator, ...]
    programmes: tuple[Programme, ...]
    event_dates: Mapping[str, str]
    settings: Settings = field(default_factory=Settings)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with this id; `AnalyticsError` naming the known ones otherwise."""
        for item in self.indicators:
            if item.id == indicator_id:
                return item
        known = ", ".join(i.id for i in self.indicators)
        raise AnalyticsError(f"unknown indicator {indicator_id!r}; known: {known}")

    def select(self, ids: Sequence[str] | None) -> tuple[Indicator, ...]:
        """The named indicators in report order (all when `ids` is empty or None)."""
        if not ids:
            return self.indicators
        wanted = {self.indicator(i).id for i in ids}
        return tuple(i for i in self.indicators if i.id in wanted)

    def programme(self, programme_id: str) -> Programme:
        for item in self.programmes:
            if item.id == programme_id:
                return item
        raise AnalyticsError(f"unknown programme {programme_id!r}")


@lru_cache(maxsize=4)
def _cached(path: Path, stamp: int, schedule_path: Path | None) -> AnalyticsConfig:
    return read_config(path, load_schedule(schedule_path))


def load_config(path: Path | str | None = None) -> AnalyticsConfig:
    """Read `indicators.toml` (default: next to this module) with `forms/schedule.toml`.

    Cached until the file changes. Raises `AnalyticsError` naming the file and the entry.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as e:
        raise AnalyticsError(f"{path}: cannot read the indicator definitions: {e}") from e
    return _cached(path, stamp, None)


def read_config(path: Path, schedule: Schedule) -> AnalyticsConfig:
    """Parse and check one indicator file against a schedule (uncached)."""
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise AnalyticsError(f"{path}: {e}") from e
    try:
        return parse_config(raw, schedule)
    except (KeyError, TypeError, ValueError) as e:
        raise AnalyticsError(f"{path}: {e}") from e


def parse_config(raw: Mapping[str, Any], schedule: Schedule) -> AnalyticsConfig:
    """Build the configuration from parsed TOML; `ValueError` names the bad entry."""
    unknown = set(raw) - {
        "settings",
        "event_dates",
        "growth",
        "programmes",
        "dose_indicators",
        "indicators",
    }
    if unknown:
        raise ValueError(f"unknown top-level keys {sorted(unknown)}")
    s, growth = raw.get("settings", {}), raw.get("growth", {})
    settings = Settings(
        timezone=str(s.get("timezone", "Asia/Shanghai")),
        small_denominator=int(s.get("small_denominator", 20)),
        confidence=float(s.get("confidence", 0.95)),
        exclude_weight_when_oedema=bool(growth.get("exclude_weight_when_oedema", True)),
    )
    event_dates = dict(raw.get("event_dates", {}))
    for form_id, name in event_dates.items():
        if form_id not in FORM_IDS or C.DATA_FIELDS.get(name) != "date":
            raise ValueError(f"[event_dates] {form_id} = {name!r} is not a date field of a form")
    programmes = tuple(
        sorted(
            (
                Programme(
                    pid,
                    p["name_zh"],
                    p["name_en"],
                    int(p.get("order", 0)),
                    str(p.get("sheet") or f"{p['name_zh']} {p['name_en']}")[:31],
                )
                for pid, p in raw.get("programmes", {}).items()
            ),
            key=lambda p: (p.order, p.id),
        )
    )
    known_programmes = {p.id for p in programmes}
    indicators: list[Indicator] = []
    if "dose_indicators" in raw:
        template = raw["dose_indicators"]
        for dose in schedule.doses:
            values = {
                "code": dose.code,
                "name_zh": dose.name_zh,
                "name_en": dose.name_en,
                "due_months": dose.due_months,
            }
            entry = {k: _fill(v, values) for k, v in template.items()}
            lo, hi = template["cohort"]["months_after_due"]
            entry["cohort"] = {
                "age_at": "E",
                "min_months": dose.due_months + lo,
                "max_months": dose.due_months + hi,
            }
            entry["evidence"] = {**entry.get("evidence", {}), "dose": dose.code}
            indicators.append(_indicator(entry, schedule))
    indicators += [_indicator(entry, schedule) for entry in raw.get("indicators", [])]
    ids = [i.id for i in indicators]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate indicator ids {duplicates}")
    for item in indicators:
        if item.programme not in known_programmes:
            raise ValueError(f"{item.id}: unknown programme {item.programme!r}")
    order = {p.id: p.order for p in programmes}
    ranked = sorted(enumerate(indicators), key=lambda pair: (order[pair[1].programme], pair[0]))
    indicators = [
        Indicator(**{**item.__dict__, "order": rank}) for rank, (_, item) in enumerate(ranked)
    ]
    return AnalyticsConfig(tuple(indicators), programmes, event_dates, settings)


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


_INDICATOR_KEYS = frozenset(
    {
        "id",
        "programme",
        "name_zh",
        "name_en",
        "definition_zh",
        "definition_en",
        "target",
        "direction",
        "target_population",
        "prorate",
        "cohort",
        "evidence",
        "denominator",
        "eligible",
        "numerator",
    }
)


def _indicator(entry: Mapping[str, Any], schedule: Schedule) -> Indicator:
    ident = entry.get("id", "?")
    where = f"indicator {ident!r}"
    unknown = set(entry) - _INDICATOR_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    direction = entry.get("direction", ">=")
    if direction not in DIRECTIONS:
        raise ValueError(f"{where}: direction must be >= or <=, not {direction!r}")
    target = entry.get("target")
    if target is not None and not (isinstance(target, (int, float)) and 0 <= target <= 1):
        raise ValueError(f"{where}: target must be a proportion between 0 and 1")
    population = entry.get("target_population")
    if population is not None and population not in TARGET_COLUMNS:
        raise ValueError(f"{where}: target_population must be one of {list(TARGET_COLUMNS)}")
    cohort = _cohort(entry.get("cohort") or {}, where)
    evidence = _evidence(entry["evidence"], where, schedule) if "evidence" in entry else None
    denominator = entry.get("denominator", "cohort")
    if denominator not in ("cohort", "evidence"):
        raise ValueError(f"{where}: denominator must be 'cohort' or 'evidence'")
    if denominator == "evidence" and evidence is None:
        raise ValueError(f"{where}: denominator 'evidence' needs an evidence table")
    eligible = _conditions(entry.get("eligible", []), f"{where} eligible")
    if eligible and denominator != "evidence":
        raise ValueError(f"{where}: 'eligible' applies to denominator 'evidence' only")
    raw_numerator = entry["numerator"]
    numerator: str | tuple[Condition, ...] | AllDoses
    if raw_numerator == HAS_EVIDENCE:
        if evidence is None:
            raise ValueError(f"{where}: numerator 'has_evidence' needs an evidence table")
        numerator = HAS_EVIDENCE
    elif isinstance(raw_numerator, dict):
        doses = tuple(raw_numerator["all_doses"])
        bad = [d for d in doses if d not in schedule.codes]
        if bad:
            raise ValueError(f"{where}: doses {bad} are not in the schedule")
        numerator = AllDoses(doses, int(raw_numerator["before_age_months"]))
    else:
        numerator = _conditions(raw_numerator, f"{where} numerator")
        if evidence is None:
            raise ValueError(f"{where}: numerator conditions need an evidence table")
    return Indicator(
        id=str(entry["id"]),
        programme=str(entry["programme"]),
        name_zh=str(entry["name_zh"]),
        name_en=str(entry["name_en"]),
        definition_zh=str(entry.get("definition_zh", "")),
        definition_en=str(entry.get("definition_en", "")),
        direction=direction,
        cohort=cohort,
        denominator=denominator,
        numerator=numerator,
        evidence=evidence,
        eligible=eligible,
        target=float(target) if target is not None else None,
        target_population=population,
        prorate=bool(entry.get("prorate", False)),
    )


def _cohort(raw: Mapping[str, Any], where: str) -> Cohort:
    unknown = set(raw) - {"born_in_period", "age_at", "min_months", "max_months"}
    if unknown:
        raise ValueError(f"{where}: unknown cohort keys {sorted(unknown)}")
    if raw.get("age_at", "E") != "E":
        raise ValueError(f"{where}: cohort age_at must be 'E'")
    cohort = Cohort(
        born_in_period=bool(raw.get("born_in_period", False)),
        min_months=raw.get("min_months"),
        max_months=raw.get("max_months"),
    )
    if cohort.born_in_period and (cohort.min_months is not None or cohort.max_months is not None):
        raise ValueError(f"{where}: a cohort is born in the period or aged, not both")
    return cohort


def _evidence(raw: Mapping[str, Any], where: str, schedule: Schedule) -> Evidence:
    unknown = set(raw) - {"table", "forms", "dose", "window", "where", "pick"}
    if unknown:
        raise ValueError(f"{where}: unknown evidence keys {sorted(unknown)}")
    evidence = Evidence(
        table=raw.get("table", "records"),
        forms=tuple(raw.get("forms", ())),
        dose=raw.get("dose"),
        window=raw.get("window", "any"),
        where=_conditions(raw.get("where", []), f"{where} evidence"),
        pick=raw.get("pick", "all"),
    )
    if evidence.table not in TABLES:
        raise ValueError(f"{where}: evidence table must be one of {sorted(TABLES)}")
    if evidence.window not in WINDOWS:
        raise ValueError(f"{where}: evidence window must be one of {sorted(WINDOWS)}")
    if evidence.pick not in PICKS:
        raise ValueError(f"{where}: evidence pick must be one of {sorted(PICKS)}")
    bad_forms = [f for f in evidence.forms if f not in FORM_IDS]
    if bad_forms:
        raise ValueError(f"{where}: unknown forms {bad_forms}")
    if evidence.table == "doses" and evidence.dose not in schedule.codes:
        raise ValueError(f"{where}: evidence dose {evidence.dose!r} is not in the schedule")
    return evidence


def _conditions(raw: Sequence[Any], where: str) -> tuple[Condition, ...]:
    out = []
    for item in raw:
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise ValueError(f"{where}: a condition is [column, op, value], got {item!r}")
        column, op = item[0], item[1]
        value = item[2] if len(item) == 3 else None
        if column not in CONDITION_COLUMNS:
            raise ValueError(f"{where}: unknown column {column!r}")
        if op not in OPS:
            raise ValueError(f"{where}: unknown operator {op!r}")
        if op in ("in", "not_in", "between"):
            value = tuple(value)
        out.append(Condition(column, op, value))
    return tuple(out)


def data_dir() -> Path:
    """Where Cradle keeps local data: `$CRADLE_DATA_DIR`, else `.data` in the checkout."""
    return Path(os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR)


def cache_dir(prefix: str, root: Path | None = None) -> Path:
    """The analytics cache of one set of Cradle databases: `<data dir>/analytics-cache/<prefix>`."""
    base = Path(root) if root is not None else data_dir()
    return base / "analytics-cache" / (prefix.rstrip("_") or "default")
