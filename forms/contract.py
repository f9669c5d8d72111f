"""The data contract of the three field forms (shared spec FORMS.md) as data.

Form ids, field names, types and choice values here are the contract that the sync
service, the validator, the analytics and external clients rely on. The forms build
checks every built XForm against it, so an edit in Excel that breaks the contract fails
the build. `group` records where the current forms put each field (the path of its
node under the instance root, as in ODK Central's exports); readers should still find
a field by its name, which is unique within a form.

>>> CONTRACTS["immunization"]["doses_given"].kind
'select_multiple'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from forms.schedule import load_schedule

#: XLSForm type → XForm bind type (pyxform writes selects as strings).
BIND_TYPES: Mapping[str, str] = {
    "text": "string",
    "integer": "int",
    "decimal": "decimal",
    "date": "date",
    "dateTime": "dateTime",
    "select_one": "string",
    "select_multiple": "string",
    "geopoint": "geopoint",
}

#: XLSForm type → XForm body control (metadata fields have none).
CONTROLS: Mapping[str, str] = {
    "text": "input",
    "integer": "input",
    "decimal": "input",
    "date": "input",
    "select_one": "select1",
    "select_multiple": "select",
    "geopoint": "input",
}

#: Earliest acceptable date of birth.
EARLIEST_DOB = date(2010, 1, 1)

#: Pattern of the child's health / vaccination card number.
CHILD_ID_PATTERN = r"^[0-9A-Za-z]{6,20}$"

#: Age window of `nutrition_pack.distribution_date`, in days since birth: 181 is the
#: fewest days in any 6 calendar months, 731 the most in any 24, so that no child who
#: is exactly 6 or exactly 24 months old is refused.
NUTRITION_AGE_DAYS = (181, 731)

#: Age under which `immunization.feeding_24h` is asked, in completed calendar months.
FEEDING_UNDER_MONTHS = 6


@dataclass(frozen=True, slots=True)
class Field:
    """One contract field of a form.

    `kind` is the XLSForm type (`text`, `integer`, `decimal`, `date`, `dateTime`,
    `select_one`, `select_multiple`, `geopoint`). `required` means required whenever
    relevant; `conditional` fields are relevant only in some cases and may be absent.
    `choices` lists the values of a select; a select whose list comes from a media file
    names it in `choices_file` instead, filtered by the field `filtered_by`. Dates:
    `not_future`, `earliest` (a fixed date), `not_before` (another field: value >= that
    field) and `after` (value > that field).
    """

    name: str
    kind: str
    group: str
    required: bool = True
    conditional: bool = False
    choices: tuple[str, ...] = ()
    choices_file: str | None = None
    filtered_by: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    max_length: int | None = None
    not_future: bool = False
    earliest: date | None = None
    not_before: str | None = None
    after: str | None = None
    metadata: bool = False
    personal: bool = False

    @property
    def bind_type(self) -> str:
        """The XForm bind type of the field."""
        return BIND_TYPES[self.kind]

    @property
    def path(self) -> str:
        """Path below the instance root, e.g. `visit/doses_given`."""
        return f"{self.group}/{self.name}" if self.group else self.name


@dataclass(frozen=True, slots=True)
class FormContract:
    """The contract fields of one form, in form order."""

    form_id: str
    fields: tuple[Field, ...]

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.form_id} has no contract field {name!r}")

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in form order."""
        return tuple(f.name for f in self.fields)

    @property
    def groups(self) -> tuple[str, ...]:
        """Top-level groups in form order."""
        return tuple(dict.fromkeys(f.group for f in self.fields if f.group))


YES_NO = ("yes", "no")
FEEDING = ("exclusive", "predominant", "mixed", "formula", "none")
DANGER_SIGNS = (
    "none",
    "fever",
    "jaundice",
    "poor_feeding",
    "breathing",
    "convulsions",
    "umbilical_infection",
    "other",
)
PLACES_OF_DELIVERY = ("county_hospital", "township_hospital", "other_facility", "home", "other")
#: The dose codes come from the one schedule file, never copied here.
DOSE_CODES: tuple[str, ...] = load_schedule().codes

_METADATA = (
    Field("start", "dateTime", "", metadata=True),
    Field("end", "dateTime", "", metadata=True),
    Field("today", "date", "", metadata=True),
    Field("deviceid", "text", "", metadata=True),
)
_LOCATION = (
    Field("county", "select_one", "location", choices_file="counties.csv", pattern=r"^[0-9]{6}$"),
    Field(
        "township",
        "select_one",
        "location",
        choices_file="townships.csv",
        filtered_by="county",
        pattern=r"^[0-9]{9}$",
    ),
    Field("village", "text", "location", max_length=60),
)
_CHILD = (
    Field("child_id", "text", "child", pattern=CHILD_ID_PATTERN),
    Field("child_name", "text", "child", max_length=30, personal=True),
    Field("child_sex", "select_one", "child", choices=("male", "female")),
    Field("child_dob", "date", "child", not_future=True, earliest=EARLIEST_DOB),
)
_GPS = Field("gps", "geopoint", "visit", required=False)


def _form(form_id: str, *fields: Field) -> FormContract:
    return FormContract(form_id, (*_METADATA, *_LOCATION, *fields))


CONTRACTS: Mapping[str, FormContract] = {
    "newborn_visit": _form(
        "newborn_visit",
        *_CHILD,
        Field("mother_name", "text", "child", required=False, max_length=30, personal=True),
        Field("place_of_delivery", "select_one", "birth", choices=PLACES_OF_DELIVERY),
        Field("birth_weight_g", "integer", "birth", minimum=500, maximum=6000),
        Field("gestational_weeks", "integer", "birth", required=False, minimum=22, maximum=45),
        Field("disease_screening", "select_one", "birth", choices=("yes", "no", "unknown")),
        Field("hearing_screening", "select_one", "birth", choices=("pass", "refer", "not_done")),
        Field("visit_date", "date", "visit", not_future=True, not_before="child_dob"),
        Field("visit_number", "integer", "visit", minimum=1, maximum=4),
        Field("weight_kg", "decimal", "visit", minimum=0.5, maximum=10),
        Field("feeding_24h", "select_one", "visit", choices=FEEDING),
        Field("danger_signs", "select_multiple", "visit", choices=DANGER_SIGNS),
        Field("referred", "select_one", "visit", choices=YES_NO),
        _GPS,
    ),
    "nutrition_pack": _form(
        "nutrition_pack",
        *_CHILD,
        Field("distribution_date", "date", "visit", not_future=True, not_before="child_dob"),
        Field("packs_given", "integer", "visit", minimum=0, maximum=120),
        Field("packs_eaten_7d", "integer", "visit", minimum=0, maximum=7),
        Field("counselling", "select_one", "visit", choices=YES_NO),
        _GPS,
        Field("weight_kg", "decimal", "growth", minimum=2, maximum=25),
        Field("measured_lying", "select_one", "growth", choices=YES_NO),
        Field("length_cm", "decimal", "growth", minimum=40, maximum=120),
        Field("oedema", "select_one", "growth", choices=YES_NO),
        Field("hemoglobin_g_l", "integer", "growth", required=False, minimum=40, maximum=200),
    ),
    "immunization": _form(
        "immunization",
        *_CHILD,
        Field("vaccination_date", "date", "visit", not_future=True, not_before="child_dob"),
        Field("doses_given", "select_multiple", "visit", choices=DOSE_CODES),
        Field("hepb1_within_24h", "select_one", "visit", conditional=True, choices=YES_NO),
        Field("aefi", "select_one", "visit", choices=YES_NO),
        Field("feeding_24h", "select_one", "visit", conditional=True, choices=FEEDING),
        Field(
            "next_visit_date",
            "date",
            "visit",
            required=False,
            after="vaccination_date",
        ),
        _GPS,
    ),
}

FORM_IDS: tuple[str, ...] = tuple(CONTRACTS)
