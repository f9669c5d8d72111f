"""`cradle coverage` in-process against the real server."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from analytics.cli import coverage_command
from sync.couch import CouchClient
from sync.schema import db_name
from tests.integration.analytics.conftest import put_all
from tests.unit.analytics.dataset import small_dataset


def test_coverage_command_writes_files_and_reads_only_changes_the_second_time(
    cradle_couch: str, couch: CouchClient, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    submissions, quarantine = small_dataset(children=60)
    put_all(couch.db(db_name(cradle_couch, "submissions")), submissions)
    put_all(couch.db(db_name(cradle_couch, "quarantine")), quarantine)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        coverage_command,
        ["--period", "2026-Q3", "--county", "450123", "--format", "csv", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"reading submissions 表单: {len(submissions)}/{len(submissions)} changes" in result.output
    )
    assert (out / "coverage-2026-Q3-450123.csv").exists()
    assert (out / "quality-2026-Q3-450123.csv").exists()
    assert list((tmp_path / "data" / "analytics-cache").iterdir())

    again = runner.invoke(
        coverage_command,
        [
            "--period",
            "2026-07",
            "--indicator",
            "imm_bcg",
            "--indicator",
            "stunting",
            "--format",
            "png",
            "--out",
            str(out),
        ],
    )
    assert again.exit_code == 0, again.output
    assert "reading submissions 表单: 0" in again.output
    assert (out / "map-2026-07-imm_bcg.png").exists() and (
        out / "map-2026-07-stunting.png"
    ).exists()


def test_errors_are_one_line(cradle_couch: str, settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    result = CliRunner().invoke(
        coverage_command, ["--period", "2026-Q3", "--county", "999999", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unknown county '999999'"
