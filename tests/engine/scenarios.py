"""Field visits answered the way a health worker fills the form, question by question, with the
values Cradle must store for each (the typed `data` of the CouchDB document).

Metadata (`start`, `end`, `today`, `deviceid`, `instanceID`) is the engine's own; the rest is
what the health worker entered. Every date is in the past, so the scenarios stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.engine.runner import Answer

COUNTY = "450123"
TOWNSHIP = "450123101"  # the health worker's own township
OTHER_TOWNSHIP = "450123102"  # same county: the county supervisor's
THIRD_TOWNSHIP = "450123103"
OTHER_COUNTY = "450124"
OTHER_COUNTY_TOWNSHIP = "450124101"


@dataclass(frozen=True)
class Scenario:
    """One visit: the form, the answers in the order they are given, who submits it, and the
    typed values Cradle stores (`data` without metadata) and keeps aside (`extra`)."""

    name: str
    form_id: str
    answers: tuple[Answer, ...]
    expected: dict[str, Any]
    user: str = "worker"
    extra: dict[str, str] = field(default_factory=dict)

    def with_answers(self, **changes: Any) -> list[Answer]:
        """The same answers with some values changed (None: the question is left unanswered,
        a name not yet answered is added at the end)."""
        out = [(k, changes.get(k, v)) for k, v in self.answers]
        out += [(k, v) for k, v in changes.items() if k not in dict(self.answers)]
        return [(k, v) for k, v in out if v is not None]


def _location(township: str = TOWNSHIP, village: str = "那桐村") -> tuple[Answer, ...]:
    return (("county", COUNTY), ("township", township), ("village", village))


def _location_data(township: str = TOWNSHIP, village: str = "那桐村") -> dict[str, Any]:
    return {"county": COUNTY, "township": township, "village": village}


NEWBORN = Scenario(
    "normal newborn visit",
    "newborn_visit",
    (
        *_location(),
        ("child_id", "450123202610150007"),
        ("child_name", "韦小玲"),
        ("child_sex", "female"),
        ("child_dob", "2026-10-15"),
        ("mother_name", "韦秀梅"),
        ("place_of_delivery", "county_hospital"),
        ("birth_weight_g", "3250"),
        ("gestational_weeks", "39"),
        ("disease_screening", "yes"),
        ("hearing_screening", "pass"),
        ("visit_date", "2026-10-22"),
        ("visit_number", "1"),
        ("weight_kg", "3.45"),
        ("feeding_24h", "exclusive"),
        ("danger_signs", ["none"]),
        ("referred", "no"),
        ("gps", "22.8512 107.6934 96 6"),
    ),
    {
        **_location_data(),
        "child_id": "450123202610150007",
        "child_name": "韦小玲",
        "child_sex": "female",
        "child_dob": "2026-10-15",
        "mother_name": "韦秀梅",
        "place_of_delivery": "county_hospital",
        "birth_weight_g": 3250,
        "gestational_weeks": 39,
        "disease_screening": "yes",
        "hearing_screening": "pass",
        "visit_date": "2026-10-22",
        "visit_number": 1,
        "weight_kg": 3.45,
        "feeding_24h": "exclusive",
        "danger_signs": ["none"],
        "referred": "no",
        "gps": {"lat": 22.8512, "lon": 107.6934, "alt": 96.0, "accuracy": 6.0},
    },
)

HOME_BIRTH = Scenario(
    "home birth, low birth weight, referred",
    "newborn_visit",
    (
        *_location(OTHER_TOWNSHIP, "岜独屯"),
        ("child_id", "450123202609010031"),
        ("child_name", "黄明"),
        ("child_sex", "male"),
        ("child_dob", "2026-09-01"),
        ("place_of_delivery", "home"),
        ("birth_weight_g", "2450"),
        # gestational age unknown after a home birth: left blank
        ("disease_screening", "no"),
        ("hearing_screening", "not_done"),
        ("visit_date", "2026-09-05"),
        ("visit_number", "1"),
        ("weight_kg", "2.4"),
        ("feeding_24h", "mixed"),
        ("danger_signs", ["jaundice", "umbilical_infection"]),
        ("referred", "yes"),
    ),
    {
        **_location_data(OTHER_TOWNSHIP, "岜独屯"),
        "child_id": "450123202609010031",
        "child_name": "黄明",
        "child_sex": "male",
        "child_dob": "2026-09-01",
        "place_of_delivery": "home",
        "birth_weight_g": 2450,
        "disease_screening": "no",
        "hearing_screening": "not_done",
        "visit_date": "2026-09-05",
        "visit_number": 1,
        "weight_kg": 2.4,
        "feeding_24h": "mixed",
        "danger_signs": ["jaundice", "umbilical_infection"],
        "referred": "yes",
    },
    user="sup",
)

LATE_VACCINATION = Scenario(
    "late vaccination at 15 months (measles and JE due at 8, MenA 2 at 9)",
    "immunization",
    (
        *_location(),
        ("child_id", "450123202508120019"),
        ("child_name", "蓝天佑"),
        ("child_sex", "male"),
        ("child_dob", "2025-08-12"),
        ("vaccination_date", "2026-11-20"),
        ("doses_given", ["mmr1", "jel1", "mpsva2"]),
        ("aefi", "no"),
        ("next_visit_date", "2027-02-12"),
    ),
    {
        **_location_data(),
        "child_id": "450123202508120019",
        "child_name": "蓝天佑",
        "child_sex": "male",
        "child_dob": "2025-08-12",
        "vaccination_date": "2026-11-20",
        "doses_given": ["jel1", "mmr1", "mpsva2"],
        "aefi": "no",
        "next_visit_date": "2027-02-12",
    },
)

NUTRITION = Scenario(
    "nutrition pack with weight, length and haemoglobin",
    "nutrition_pack",
    (
        *_location(),
        ("child_id", "450123202505200044"),
        ("child_name", "农佳怡"),
        ("child_sex", "female"),
        ("child_dob", "2025-05-20"),
        ("distribution_date", "2026-11-18"),
        ("packs_given", "30"),
        ("packs_eaten_7d", "6"),
        ("counselling", "yes"),
        ("weight_kg", "9.6"),
        ("measured_lying", "yes"),
        ("length_cm", "78.5"),
        ("oedema", "no"),
        ("hemoglobin_g_l", "108"),
    ),
    {
        **_location_data(),
        "child_id": "450123202505200044",
        "child_name": "农佳怡",
        "child_sex": "female",
        "child_dob": "2025-05-20",
        "distribution_date": "2026-11-18",
        "packs_given": 30,
        "packs_eaten_7d": 6,
        "counselling": "yes",
        "weight_kg": 9.6,
        "measured_lying": "yes",
        "length_cm": 78.5,
        "oedema": "no",
        "hemoglobin_g_l": 108,
    },
    # 17 completed months: the 18th month is not complete until the 20th
    extra={"age_months": "17"},
)

INFANT_VACCINATION = Scenario(
    "infant of 4 months vaccinated: the feeding question is asked",
    "immunization",
    (
        *_location(THIRD_TOWNSHIP, "六朗村"),
        ("child_id", "450123202607140058"),
        ("child_name", "陆思琪"),
        ("child_sex", "female"),
        ("child_dob", "2026-07-14"),
        ("vaccination_date", "2026-11-14"),
        ("doses_given", ["bopv1", "dtap2"]),
        ("aefi", "no"),
        ("feeding_24h", "predominant"),
    ),
    {
        **_location_data(THIRD_TOWNSHIP, "六朗村"),
        "child_id": "450123202607140058",
        "child_name": "陆思琪",
        "child_sex": "female",
        "child_dob": "2026-07-14",
        "vaccination_date": "2026-11-14",
        "doses_given": ["bopv1", "dtap2"],
        "aefi": "no",
        "feeding_24h": "predominant",
    },
    user="sup",
)

BIRTH_DOSES = Scenario(
    "birth doses on the day of birth: hepatitis B within 24 hours",
    "immunization",
    (
        *_location(),
        ("child_id", "450123202611020063"),
        ("child_name", "梁宝"),
        ("child_sex", "male"),
        ("child_dob", "2026-11-02"),
        ("vaccination_date", "2026-11-02"),
        ("doses_given", ["hepb1", "bcg"]),
        ("hepb1_within_24h", "yes"),
        ("aefi", "no"),
        ("feeding_24h", "exclusive"),
        ("next_visit_date", "2026-12-02"),
    ),
    {
        **_location_data(),
        "child_id": "450123202611020063",
        "child_name": "梁宝",
        "child_sex": "male",
        "child_dob": "2026-11-02",
        "vaccination_date": "2026-11-02",
        "doses_given": ["bcg", "hepb1"],
        "hepb1_within_24h": "yes",
        "aefi": "no",
        "feeding_24h": "exclusive",
        "next_visit_date": "2026-12-02",
    },
)


def _nutrition_on(dob: str, day: str, months: str) -> Scenario:
    """The nutrition visit for a child born on `dob`, visited on `day`, `months` old."""
    answers = dict(NUTRITION.answers) | {"child_dob": dob, "distribution_date": day}
    expected = NUTRITION.expected | {"child_dob": dob, "distribution_date": day}
    return Scenario(
        f"nutrition pack at exactly {months} months",
        "nutrition_pack",
        tuple(answers.items()),
        expected,
        extra={"age_months": months},
    )


# The window is counted in days (181–731, forms.contract.NUTRITION_AGE_DAYS); these children
# are exactly 6 and 24 months old on a day that is exactly at the edge of it.
SIX_MONTHS = _nutrition_on("2025-01-15", "2025-07-15", "6")  # 181 days
TWENTY_FOUR_MONTHS = _nutrition_on("2023-03-10", "2025-03-10", "24")  # 731 days (2024 leap)

VALID = (
    NEWBORN,
    HOME_BIRTH,
    LATE_VACCINATION,
    NUTRITION,
    INFANT_VACCINATION,
    BIRTH_DOSES,
    SIX_MONTHS,
    TWENTY_FOUR_MONTHS,
)
