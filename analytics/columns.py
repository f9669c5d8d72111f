"""Column names of the flattened tables, in one place.

CouchDB documents are flattened once, at the boundary (`analytics.flatten`), into columns
named by their path in the document as `pandas.json_normalize` would name them: top-level
keys keep their name (`township_code`), contract fields live under `data.` (`data.child_dob`).
Everything downstream refers to these constants, never to string literals.

Personal fields of the contract (`child_name`, `mother_name`) are never flattened: they
cannot reach the cache, the tables or any output.

>>> CHILD_DOB
'data.child_dob'
"""

from __future__ import annotations

from collections.abc import Mapping

from forms.contract import CONTRACTS

# -- submission documents: top-level keys ------------------------------------------------
DOC_ID = "_id"
FORM_ID = "form_id"
FORM_VERSION = "form_version"
INSTANCE_ID = "instance_id"
COUNTY = "county_code"
TOWNSHIP = "township_code"
CHILD_ID = "child_id"
COLLECTED_AT = "collected_at"
RECEIVED_AT = "received_at"
UPDATED_AT = "updated_at"
SOURCE = "source"
EDITS = "edits"
REVIEW_STATE = "review_state"
DELETED = "deleted"
#: Cache-internal: the row records that the document is gone (a `_changes` tombstone).
TOMBSTONE = "_tombstone"


def data(name: str) -> str:
    """The flattened column of a contract field: `data("visit_date") == "data.visit_date"`."""
    return f"data.{name}"


# -- contract fields the analytics use ------------------------------------------------
CHILD_DOB = data("child_dob")
CHILD_SEX = data("child_sex")
VISIT_DATE = data("visit_date")
PLACE_OF_DELIVERY = data("place_of_delivery")
BIRTH_WEIGHT_G = data("birth_weight_g")
DISEASE_SCREENING = data("disease_screening")
HEARING_SCREENING = data("hearing_screening")
FEEDING_24H = data("feeding_24h")
WEIGHT_KG = data("weight_kg")
DISTRIBUTION_DATE = data("distribution_date")
PACKS_GIVEN = data("packs_given")
PACKS_EATEN_7D = data("packs_eaten_7d")
LENGTH_CM = data("length_cm")
MEASURED_LYING = data("measured_lying")
OEDEMA = data("oedema")
HEMOGLOBIN_G_L = data("hemoglobin_g_l")
VACCINATION_DATE = data("vaccination_date")
DOSES_GIVEN = data("doses_given")
HEPB1_WITHIN_24H = data("hepb1_within_24h")

# Contract fields that are locations, identity or metadata: kept at the top level of the
# document already (county_code, township_code, child_id, collected_at) or not analysed.
_NOT_FLATTENED = frozenset(
    {"start", "end", "today", "deviceid", "county", "township", "village", "child_id", "gps"}
)
_KINDS = frozenset({"date", "integer", "decimal", "select_one", "select_multiple"})


def _data_fields() -> Mapping[str, str]:
    fields: dict[str, str] = {}
    for contract in CONTRACTS.values():
        for f in contract:
            if f.personal or f.name in _NOT_FLATTENED or f.kind not in _KINDS:
                continue
            fields.setdefault(f.name, f.kind)
    return fields


#: Contract field name → XLSForm type, for every field flattened into `data.<name>`.
DATA_FIELDS: Mapping[str, str] = _data_fields()

#: Top-level string columns of the submissions table.
SUBMISSION_TEXT = (DOC_ID, FORM_VERSION, INSTANCE_ID, CHILD_ID)
#: Top-level low-cardinality columns (categorical in memory).
SUBMISSION_CATEGORIES = (FORM_ID, COUNTY, TOWNSHIP, SOURCE, REVIEW_STATE)
#: Top-level instants (UTC).
SUBMISSION_INSTANTS = (COLLECTED_AT, RECEIVED_AT, UPDATED_AT)

# -- quarantine documents --------------------------------------------------------------
Q_STATUS = "status"
Q_REASON = "reason"  # the first (deciding) reason code
Q_REASONS = "reasons"  # every reason code, space separated

# -- derived columns (computed by the analytics, never stored) -------------------------
EVENT_DATE = "event_date"  # the form's own date (visit, distribution, vaccination)
AGE_DAYS = "age_days"  # at the event date, from the child's resolved date of birth
AGE_MONTHS = "age_months"  # completed calendar months at the event date
LAZ = "laz"  # length-for-age z (WHO 2006)
WAZ = "waz"  # weight-for-age z (WHO 2006)
DOSE = "dose"  # one dose code of `doses_given`, in the exploded doses table
REC = "_rec"  # position of a row in the records table

# -- children table --------------------------------------------------------------------
DOB = "dob"
SEX = "sex"
DOB_CONFLICT = "dob_conflict"
SEX_CONFLICT = "sex_conflict"

# -- result table ----------------------------------------------------------------------
LEVEL = "level"  # township | county | programme
COUNTY_NAME_ZH = "county_name_zh"
COUNTY_NAME_EN = "county_name_en"
TOWNSHIP_NAME_ZH = "township_name_zh"
TOWNSHIP_NAME_EN = "township_name_en"
PERIOD = "period"
PERIOD_START = "period_start"
PERIOD_END = "period_end"
INDICATOR = "indicator"
PROGRAMME = "programme"
NUMERATOR = "numerator"
DENOMINATOR = "denominator"
RATE = "rate"
CI_LOW = "ci_low"
CI_HIGH = "ci_high"
TARGET_DENOMINATOR = "target_denominator"
TARGET_RATE = "target_rate"
TARGET = "target"
DIRECTION = "direction"
MET = "met"
SMALL_DENOMINATOR = "small_denominator"
NUMERATOR_EXCEEDS_DENOMINATOR = "numerator_exceeds_denominator"
NO_DATA = "no_data"
OVERDUE_CHILDREN = "overdue_children"

RESULT_COLUMNS: tuple[str, ...] = (
    LEVEL,
    COUNTY,
    COUNTY_NAME_ZH,
    COUNTY_NAME_EN,
    TOWNSHIP,
    TOWNSHIP_NAME_ZH,
    TOWNSHIP_NAME_EN,
    PERIOD,
    PERIOD_START,
    PERIOD_END,
    PROGRAMME,
    INDICATOR,
    NUMERATOR,
    DENOMINATOR,
    RATE,
    CI_LOW,
    CI_HIGH,
    TARGET_DENOMINATOR,
    TARGET_RATE,
    TARGET,
    DIRECTION,
    MET,
    SMALL_DENOMINATOR,
    NUMERATOR_EXCEEDS_DENOMINATOR,
    NO_DATA,
    OVERDUE_CHILDREN,
)
FLAG_COLUMNS = (SMALL_DENOMINATOR, NUMERATOR_EXCEEDS_DENOMINATOR, NO_DATA)


def require(frame: object, columns: tuple[str, ...] | list[str], what: str = "frame") -> None:
    """Raise `ValueError` naming the first of `columns` that `frame` lacks."""
    present = set(getattr(frame, "columns", ()))
    for name in columns:
        if name not in present:
            raise ValueError(f"{what} has no column {name!r}")
