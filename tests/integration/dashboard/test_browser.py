"""The dashboard in a real browser (Debian's headless Chromium) against a live Cradle on the
real CouchDB-compatible server, with the known dataset of `dataset.py`.

Each test saves screenshots to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest

from tests.browser.chromium import LAPTOP, TABLET, launched, screenshot
from tests.integration.dashboard.conftest import PASSWORD
from tests.integration.dashboard.dataset import CHILD_NAMES, MOTHER_NAME, OTHER, A, B

if TYPE_CHECKING:
    from tests.support.central_sync import CentralWorld

pytest_plugins = ["tests.support.central_sync"]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator:
    # Playwright's sync API keeps an event loop in this thread; Django's guard against
    # database calls from async code would then refuse the test's own fixtures.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with launched() as running:
            yield running


@pytest.fixture
def site(live_server, loaded) -> str:
    """A live Cradle (threads in this process, so it shares the test's settings)."""
    return live_server.url


@pytest.fixture
def laptop(browser) -> Iterator:
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def tablet(browser) -> Iterator:
    context = browser.new_context(viewport=TABLET, locale="zh-CN", has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def log_in(page, site: str, username: str) -> None:
    page.goto(f"{site}/dashboard/")
    assert page.url.startswith(f"{site}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{site}/dashboard/**")


def numbers(page, township: str) -> tuple[int, int]:
    row = page.locator(f'#coverage-table tr[data-township="{township}"]')
    return int(row.locator(".numerator").inner_text()), int(
        row.locator(".denominator").inner_text().split()[0]
    )


def show(page, *, period: str, indicator: str = "imm_bcg") -> None:
    page.select_option("#id_programme", "immunization")
    page.select_option("#id_indicator", indicator)
    page.select_option("#id_period", period)
    page.click(".filters button[type=submit]")
    page.wait_for_url(f"**period={period}**")


def test_supervisor_sees_their_county_changes_period_and_downloads_xlsx(
    site, laptop, tmp_path: Path
) -> None:
    page = laptop
    log_in(page, site, "sup")
    assert page.url == f"{site}/dashboard/coverage/"
    assert "隆安县" in page.inner_text("header .who")
    counties = page.locator("#id_county option").all_inner_texts()
    assert counties == ["隆安县"]  # their county only

    show(page, period="2026-Q3")
    assert numbers(page, A) == (2, 3)
    assert numbers(page, B) == (1, 1)
    assert page.locator(f'tr[data-township="{OTHER}"]').count() == 0
    assert page.inner_text("#total-numerator") == "3"
    assert page.inner_text("#total-denominator") == "4"
    assert "below" in page.get_attribute(f'tr[data-township="{A}"]', "class")
    page.wait_for_function("document.getElementById('coverage-map').naturalWidth > 0")
    screenshot(page, "coverage-supervisor-2026Q3-laptop")

    show(page, period="2026-Q2")
    assert numbers(page, A) == (1, 2)
    assert page.inner_text("#total-denominator") == "3"

    # sort by rate, descending after two clicks: the township at 100% comes first
    rate_header = page.locator("#coverage-table thead th", has_text="覆盖率")
    rate_header.click()
    rate_header.click()
    first = page.locator("#coverage-table tbody tr").first.get_attribute("data-township")
    assert first == B

    with page.expect_download() as info:
        page.click("#download-xlsx")
    saved = tmp_path / "coverage.xlsx"
    info.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames  # it opens: a real workbook
    cells = [
        str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
    ]
    assert "2026-Q2" in " ".join(cells)
    assert not any(name in " ".join(cells) for name in CHILD_NAMES)
    screenshot(page, "coverage-supervisor-2026Q2-sorted-laptop")


def test_language_switch(site, laptop) -> None:
    page = laptop
    log_in(page, site, "sup")
    page.goto(f"{site}/dashboard/coverage/?period=2026-Q3&indicator=imm_bcg")
    assert page.inner_text("h1") == "覆盖率"
    assert "都桐镇" in page.inner_text("#coverage-table")
    page.click("form.lang button[value=en]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Coverage"
    assert "Dutong Town" in page.inner_text("#coverage-table")
    assert page.get_attribute("html", "lang") == "en"
    assert "period=2026-Q3" in page.url  # stays on the same view
    screenshot(page, "coverage-english-laptop")
    page.click("form.lang button[value=zh-hans]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "覆盖率"


def test_analyst_sees_no_personal_names_anywhere(site, laptop, loaded) -> None:
    page = laptop
    log_in(page, site, "analyst")
    pages = {
        "coverage": "/dashboard/coverage/?period=2026-Q3&indicator=imm_bcg",
        "coverage-county": "/dashboard/coverage/?period=2026-Q3&county=450123",
        "township": f"/dashboard/townships/{A}/?until=2026-Q3",
        "quality": "/dashboard/quality/?period=2026-Q3",
        "sync": "/dashboard/sync/",
        "collect": "/dashboard/collect/",
        "quarantined": f"/dashboard/quarantine/{loaded['unknown_township'].quarantine_id}/",
    }
    for name, path in pages.items():
        page.goto(site + path)
        html = page.content()
        for person in (*CHILD_NAMES, MOTHER_NAME):
            assert person not in html, (name, person)
        if name in ("coverage", "quality"):
            screenshot(page, f"{name}-analyst-laptop", full_page=False)
    assert page.locator("nav.main-nav a").all_inner_texts() == ["覆盖率", "数据质量"]


def test_supervisor_opens_and_reprocesses_a_quarantined_submission(site, laptop, loaded) -> None:
    page = laptop
    log_in(page, site, "sup")
    page.goto(f"{site}/dashboard/quality/?period=2026-Q3")
    assert page.inner_text("#accepted-total") == "2"
    assert page.inner_text("#conflicts-total") == "1 / 0"
    screenshot(page, "quality-supervisor-laptop")
    qid = loaded["outside_scope"].quarantine_id
    page.click(f'tr[data-quarantine="{qid}"] a')
    page.wait_for_url(f"**/dashboard/quarantine/{qid}/")
    raw = page.inner_text("#raw-xml")
    assert raw.lstrip().startswith('<data id="immunization"')  # shown as text, not markup
    assert page.locator("#raw-xml *").count() == 0
    page.click("#reprocess")
    page.wait_for_selector(".messages li")
    # judged within the worker's own area, whoever clicks: still held, and said so
    assert "已重新处理：仍未通过检查" in page.inner_text(".messages")
    assert page.inner_text("#quarantine-status") == "待处理"
    screenshot(page, "quarantine-reprocessed-laptop")


def test_tablet_width(site, tablet) -> None:
    page = tablet
    page.goto(f"{site}/accounts/login/")
    screenshot(page, "login-tablet", full_page=False)
    log_in(page, site, "sup")
    for name, path in (
        ("coverage", "/dashboard/coverage/?period=2026-Q3&indicator=imm_bcg"),
        ("township", f"/dashboard/townships/{A}/?until=2026-Q3"),
        ("quality", "/dashboard/quality/?period=2026-Q3"),
    ):
        page.goto(site + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways on a tablet"
        screenshot(page, f"{name}-supervisor-tablet")
    page.goto(site + "/dashboard/coverage/?period=2026-Q3&indicator=imm_bcg")
    table = page.locator("#coverage-table").bounding_box()
    map_box = page.locator("#coverage-map").bounding_box()
    assert map_box["y"] >= table["y"] + table["height"] - 1  # the map goes below the table


def test_supervisor_starts_a_sync_and_watches_it_finish(site, laptop, world, monkeypatch) -> None:
    world: CentralWorld
    config = world.write_config(backoff_seconds=0.05, counties=[A[:6]])  # the supervisor's county
    monkeypatch.setenv("CRADLE_CENTRAL_CONFIG", str(config))
    world.submit(6)
    world.double.faults.add(r"\.svc/Submissions", "delay:0.7", times=3)  # long enough to see
    page = laptop
    log_in(page, site, "sup")
    page.click("nav.main-nav >> text=同步")
    assert page.locator('#sources .source[data-source="gx"]').count() == 1
    page.click('#sources .source[data-source="gx"] button[type=submit]')
    page.wait_for_url("**/dashboard/sync/?run=*")
    status = page.locator("#run-progress [data-field=status]")
    assert status.inner_text() == "运行中"
    screenshot(page, "sync-running-laptop", full_page=False)
    page.wait_for_selector('#run-progress[data-status="succeeded"]', timeout=90_000)
    assert page.inner_text("#run-progress [data-field=status]") == "已完成"
    assert page.inner_text('#run-progress [data-count="new"]') == "6"
    # the page then reloads itself: the run's row in the table is final too
    run_id = page.url.split("run=")[1]
    page.wait_for_selector(f'#runs-table tr[data-run="{run_id}"] .status-succeeded')
    assert page.inner_text('#run-progress [data-count="fetched"]') == "6"
    screenshot(page, "sync-finished-laptop")
