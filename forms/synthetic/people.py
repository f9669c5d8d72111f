"""Plausible names, villages and card numbers for the synthetic children: pure, seeded.

Surnames are weighted towards those common in western Guangxi (Zhuang, Yao and Han
families); given names are one or two characters from lists per sex.
"""

from __future__ import annotations

import numpy as np

from forms.registry.demo import SYLLABLES

# (surname, relative weight)
SURNAMES: tuple[tuple[str, float], ...] = (
    ("黄", 9),
    ("韦", 8),
    ("李", 7),
    ("陆", 5),
    ("梁", 5),
    ("覃", 5),
    ("莫", 4),
    ("蒙", 3),
    ("罗", 4),
    ("农", 3),
    ("蓝", 3),
    ("潘", 3),
    ("廖", 2),
    ("陈", 4),
    ("刘", 3),
    ("张", 3),
    ("杨", 3),
    ("何", 2),
    ("卢", 2),
    ("谭", 2),
    ("周", 2),
    ("吴", 2),
    ("邓", 2),
    ("林", 2),
    ("王", 3),
    ("赵", 1),
    ("黎", 2),
    ("唐", 1),
    ("石", 1),
    ("钟", 1),
    ("凌", 1),
    ("马", 1),
    ("岑", 1),
    ("零", 1),
)
GIVEN_MALE = tuple("宇浩轩俊杰博文明强伟鹏磊晨睿泽铭诚家嘉天一梓皓凯勇海军宏志毅航锦辰")
GIVEN_FEMALE = tuple("欣怡涵雨萱诗琪佳悦思婷雅静慧敏丽芳彤妍可心晓梦瑶颖洁莉娜玲艳美")
VILLAGE_SUFFIX = "村"
VILLAGES_PER_TOWNSHIP = (6, 21)  # half-open range of how many villages a township has

_SURNAME_CHARS = np.array([s for s, _ in SURNAMES], dtype=object)
_SURNAME_P = np.array([w for _, w in SURNAMES], dtype=float)
_SURNAME_P /= _SURNAME_P.sum()


def child_names(male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One name per child (object array): surname and one or two given characters."""
    n = len(male)
    surname = _SURNAME_CHARS[rng.choice(len(SURNAMES), size=n, p=_SURNAME_P)]
    return surname + given_names(male, rng)


def mother_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mothers' names: a surname and two given characters."""
    surname = _SURNAME_CHARS[rng.choice(len(SURNAMES), size=n, p=_SURNAME_P)]
    female = np.zeros(n, dtype=bool)
    first = _pick(female, rng)
    return surname + first + _pick(female, rng)


def given_names(male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One or two given-name characters (two for about 70%)."""
    first, second = _pick(male, rng), _pick(male, rng)
    two = rng.random(len(male)) < 0.7
    return np.where(two, first + second, first)


def _pick(male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    boys = np.array(GIVEN_MALE, dtype=object)[rng.integers(0, len(GIVEN_MALE), len(male))]
    girls = np.array(GIVEN_FEMALE, dtype=object)[rng.integers(0, len(GIVEN_FEMALE), len(male))]
    return np.where(male, boys, girls)


def village_names(rng: np.random.Generator) -> list[str]:
    """The villages of one township: distinct two-syllable names plus 村."""
    count = int(rng.integers(*VILLAGES_PER_TOWNSHIP))
    names: list[str] = []
    while len(names) < count:
        a, b = rng.choice(len(SYLLABLES), 2, replace=False)
        name = SYLLABLES[a][0] + SYLLABLES[b][0] + VILLAGE_SUFFIX
        if name not in names:
            names.append(name)
    return names


def card_numbers(county: np.ndarray, dob: np.ndarray) -> np.ndarray:
    """18-character card numbers: county code, date of birth `yyyymmdd`, 4-digit serial.

    The serial counts children of the same county and birth date in the given order,
    from 0001, so the numbers are unique and deterministic.
    """
    n = len(county)
    if n == 0:
        return np.array([], dtype=object)
    ymd = np.char.replace(np.datetime_as_string(dob, unit="D"), "-", "").astype(object)
    key = county.astype(object) + ymd
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    serial = np.empty(n, dtype=np.int64)
    serial[order] = np.arange(n) - group_start + 1
    if serial.max() > 9999:
        raise ValueError("more than 9999 children born on one day in one county")
    return key + np.char.zfill(serial.astype(str), 4).astype(object)
