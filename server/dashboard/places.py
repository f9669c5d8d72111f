"""The counties and townships a user may look at, with their Chinese and English names."""

from __future__ import annotations

from dataclasses import dataclass

from forms.registry import load_registry
from server.accounts.scope import Scope


@dataclass(frozen=True)
class Place:
    code: str
    name_zh: str
    name_en: str
    county_code: str = ""


def townships_in_scope(scope: Scope) -> list[Place]:
    """Registry townships this scope covers, in registry order."""
    towns = load_registry().townships
    if scope.townships is not None:
        towns = towns.loc[towns["township_code"].isin(scope.townships)]
    return [
        Place(r.township_code, r.township_name_zh, r.township_name_en, r.county_code)
        for r in towns.itertuples(index=False)
    ]


def counties_in_scope(scope: Scope) -> list[Place]:
    """Counties with at least one township in this scope, by code."""
    wanted = {t.county_code for t in townships_in_scope(scope)}
    counties = load_registry().counties()
    return [
        Place(r.county_code, r.county_name_zh, r.county_name_en)
        for r in counties.itertuples(index=False)
        if r.county_code in wanted
    ]


def township(code: str) -> Place | None:
    towns = load_registry().townships
    rows = towns.loc[towns["township_code"] == code]
    if rows.empty:
        return None
    r = next(rows.itertuples(index=False))
    return Place(r.township_code, r.township_name_zh, r.township_name_en, r.county_code)


def county(code: str) -> Place | None:
    counties = load_registry().counties()
    rows = counties.loc[counties["county_code"] == code]
    if rows.empty:
        return None
    r = next(rows.itertuples(index=False))
    return Place(r.county_code, r.county_name_zh, r.county_name_en)
