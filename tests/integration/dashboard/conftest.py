"""Dashboard pages on a Cradle server with fresh CouchDB databases, the shared users
(worker, sup, other_sup, analyst) and the small known dataset of `dataset.py`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from server.core.ingest import form_catalog
from tests.integration.dashboard import dataset

PASSWORD = "field-pass-2026"


@pytest.fixture
def loaded(server: str, users: dict, built_forms: Path, settings, tmp_path: Path) -> dict:
    """The server, its users and the known dataset; the analytics cache in a temp dir."""
    settings.DATA_DIR = tmp_path
    settings.FORMS_BUILD_DIR = built_forms
    form_catalog.cache_clear()
    return dataset.load(built_forms)


def signed_in(username: str, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(get_user_model().objects.get(username=username))
    return client


_ROW = re.compile(r'<tr data-township="(\d+)"[^>]*>(.*?)</tr>', re.S)
_CELL = re.compile(r'class="num (numerator|denominator)">(\d+)')


def coverage_rows(html: str) -> dict[str, tuple[int, int]]:
    """Township code -> (numerator, denominator) of the coverage table."""
    out = {}
    for code, body in _ROW.findall(html):
        cells = dict(_CELL.findall(body))
        if cells:
            out[code] = (int(cells["numerator"]), int(cells["denominator"]))
    return out
