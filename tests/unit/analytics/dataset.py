"""A small, varied, deterministic dataset over three counties, for the output and cache tests."""

from __future__ import annotations

import random
from datetime import date, timedelta

from forms.registry import load_registry
from forms.schedule import load_schedule
from tests.unit.analytics import factories as f

END = date(2026, 9, 30)


def small_dataset(children: int = 160, seed: int = 6) -> tuple[list[dict], list[dict]]:
    """Submission and quarantine documents; every township of the first three counties but
    one has children, with coverage that varies by township."""
    rng = random.Random(seed)
    towns = load_registry().townships
    counties = sorted(towns["county_code"].unique())[:3]
    places = towns.loc[towns["county_code"].isin(counties), "township_code"].tolist()
    used = places[1:]  # the first township stays empty: no data
    quality = {t: rng.uniform(0.55, 1.0) for t in used}
    doses = load_schedule().doses
    docs: list[dict] = []
    for k in range(children):
        town = used[k % len(used)]
        q = quality[town]
        dob = END - timedelta(days=rng.randrange(0, 900))
        who = {"township": town, "dob": dob, "sex": rng.choice(["male", "female"])}
        child = f"K{k:06d}"
        visit = dob + timedelta(days=rng.randrange(1, 12))
        if visit <= END:
            docs.append(
                f.newborn(
                    child,
                    visit,
                    birth_weight_g=rng.randrange(2100, 4200),
                    disease_screening="yes" if rng.random() < q else "no",
                    hearing_screening="pass" if rng.random() < q else "not_done",
                    feeding_24h="exclusive" if rng.random() < q else "mixed",
                    **who,
                )
            )
        for dose in doses:
            when = dob + timedelta(days=int(dose.due_months * 30.5) + rng.randrange(0, 20))
            if when <= END and rng.random() < q:
                extra = {"hepb1_within_24h": "yes" if when <= dob + timedelta(days=1) else "no"}
                docs.append(
                    f.immunization(
                        child, when, [dose.code], **(extra if dose.code == "hepb1" else {}), **who
                    )
                )
        if 180 <= (END - dob).days <= 720:
            when = END - timedelta(days=rng.randrange(0, 80))
            age = (when - dob).days
            if age >= 181:
                docs.append(
                    f.nutrition(
                        child,
                        when,
                        packs_eaten_7d=rng.randrange(0, 8),
                        length_cm=round(60 + age / 22 + rng.gauss(0, 3), 1),
                        weight_kg=round(6 + age / 110 + rng.gauss(0, 0.9), 1),
                        hemoglobin_g_l=rng.randrange(95, 135),
                        **who,
                    )
                )
    quarantine = [
        f.quarantined("unknown_version", township=used[0], received="2026-08-01T02:00:00.000Z"),
        f.quarantined("required", township=used[1], received="2026-08-02T02:00:00.000Z"),
    ]
    return docs, quarantine
