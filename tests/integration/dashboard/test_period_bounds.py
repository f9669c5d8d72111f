"""A period outside 2000-2100 is a 400 page that says so, never a 500 (issue 15, item 3)."""

from __future__ import annotations

import pytest

from tests.integration.dashboard.conftest import signed_in
from tests.integration.dashboard.dataset import A

pytestmark = pytest.mark.integration

OUTSIDE = ["9999", "3000", "2262", "0001", "1600", "9999-Q4"]


@pytest.mark.parametrize("page", ["/dashboard/coverage/", "/dashboard/quality/"])
def test_coverage_and_quality_pages_refuse_periods_outside_the_years(loaded, page: str) -> None:
    client = signed_in("sup")
    for period in OUTSIDE:
        response = client.get(page, {"period": period})
        assert response.status_code == 400, period
        html = response.content.decode()
        assert f"时期须在 2000 至 2100 年之间：{period}" in html
        assert "Traceback" not in html
    english = signed_in("sup", HTTP_ACCEPT_LANGUAGE="en").get(page, {"period": "9999"})
    assert english.status_code == 400
    assert "The period must lie within the years 2000–2100: 9999" in english.content.decode()


def test_township_page_refuses_an_until_outside_the_years(loaded) -> None:
    client = signed_in("sup")
    for until in ("9999-Q4", "2262-Q2", "1600-Q1", "0001-Q1"):
        response = client.get(f"/dashboard/townships/{A}/", {"until": until})
        assert response.status_code == 400, until
        assert f"时期须在 2000 至 2100 年之间：{until}" in response.content.decode()
    not_a_quarter = client.get(f"/dashboard/townships/{A}/", {"until": "9999"})
    assert not_a_quarter.status_code == 400


def test_township_page_near_the_first_year_shows_the_quarters_there_are(loaded) -> None:
    response = signed_in("sup").get(f"/dashboard/townships/{A}/", {"until": "2000-Q2"})
    assert response.status_code == 200
    html = response.content.decode()
    bcg = html.split('data-indicator="imm_bcg"')[1].split("</article>")[0]
    assert "<td>2000-Q1</td>" in bcg and "<td>2000-Q2</td>" in bcg
    assert "1999-Q4" not in html
