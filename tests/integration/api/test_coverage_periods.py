"""The coverage API refuses periods outside 2000-2100 with a clear 400 (issue 15, item 3),
and the command line says so in one line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.integration.dashboard.conftest import signed_in

OUTSIDE = ["9999", "3000", "2262", "0001", "1600", "9999-Q4"]
ROUTES = ["/api/coverage/", "/api/coverage/geojson", "/api/coverage/map.png"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_periods_outside_the_years_are_a_400_invalid_query(server, users, route: str) -> None:
    client = signed_in("analyst")
    for period in OUTSIDE:
        response = client.get(route, {"period": period, "indicator": "imm_bcg"})
        assert response.status_code == 400, (route, period)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "error": "invalid_query",
            "message": f"period {period!r} is outside the years 2000-2100",
            "detail": None,
        }


@pytest.mark.django_db
def test_the_edges_of_the_years_are_answered(server, users) -> None:
    client = signed_in("analyst")
    for period in ("2000-Q1", "2100"):
        response = client.get("/api/coverage/", {"period": period, "indicator": "imm_bcg"})
        assert response.status_code == 200, period
        assert response.json()["period"]["label"] == period


def test_the_cli_says_it_in_one_line(cradle_couch: str, settings, tmp_path) -> None:
    from analytics.cli import coverage_command

    settings.DATA_DIR = tmp_path / "data"
    for period in ("9999-Q4", "1600"):
        result = CliRunner().invoke(
            coverage_command, ["--period", period, "--out", str(tmp_path / "out")]
        )
        assert result.exit_code == 1
        assert result.output == f"Error: period {period!r} is outside the years 2000-2100\n"
