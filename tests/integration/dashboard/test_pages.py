"""Every dashboard page for every role, with the Django test client on a real CouchDB:
what each role sees, the exact numbers of the known dataset, and what it may not see."""

from __future__ import annotations

import pytest
from django.test import Client

from sync.audit import entries
from tests.integration.dashboard.conftest import PASSWORD, coverage_rows, signed_in
from tests.integration.dashboard.dataset import (
    CHILD_NAMES,
    EXPECTED_BCG,
    MOTHER_NAME,
    OTHER,
    A,
    B,
)

pytestmark = pytest.mark.integration

COVERAGE_Q3 = "/dashboard/coverage/?period=2026-Q3&indicator=imm_bcg"


def assert_no_names(html: str) -> None:
    for name in (*CHILD_NAMES, MOTHER_NAME):
        assert name not in html


# -- signing in and out ------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login_page(loaded) -> None:
    response = Client().get("/dashboard/coverage/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/coverage/"
    login = Client().get("/accounts/login/")
    assert login.status_code == 200
    assert "登录" in login.content.decode()
    assert 'name="csrfmiddlewaretoken"' in login.content.decode()


def test_login_with_the_form_and_logout(loaded) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/accounts/login/",
        {"username": "sup", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/")["Location"] == "/dashboard/coverage/"
    token = client.cookies["csrftoken"].value
    out = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert client.get("/dashboard/coverage/").status_code == 302


def test_wrong_password_stays_on_the_login_page(loaded) -> None:
    response = Client().post("/accounts/login/", {"username": "sup", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_a_health_worker_is_told_to_use_odk_collect(loaded) -> None:
    worker = signed_in("worker")
    assert worker.get("/dashboard/")["Location"] == "/dashboard/collect/"
    for path in ("/dashboard/coverage/", "/dashboard/quality/", "/dashboard/sync/"):
        assert worker.get(path)["Location"] == "/dashboard/collect/"
    page = worker.get("/dashboard/collect/").content.decode()
    assert "ODK Collect" in page and "http://testserver/" in page
    assert "/dashboard/coverage/" not in page  # no navigation to pages it cannot open


# -- coverage ----------------------------------------------------------------------------


def test_supervisor_sees_the_numbers_of_their_county_only(loaded) -> None:
    html = signed_in("sup").get(COVERAGE_Q3).content.decode()
    expected = EXPECTED_BCG["2026-Q3"]
    rows = coverage_rows(html)
    assert rows[A] == expected[A]
    assert rows[B] == expected[B]
    assert OTHER not in rows
    assert all(code.startswith("450123") for code in rows)
    assert '<option value="450124"' not in html  # no other county to choose
    num, den = expected["total_450123"]
    assert f'id="total-numerator">{num}<' in html and f'id="total-denominator">{den}<' in html
    assert_no_names(html)  # aggregates only, whoever asks


def test_changing_the_period_changes_the_numbers(loaded) -> None:
    sup = signed_in("sup")
    html = sup.get("/dashboard/coverage/?period=2026-Q2&indicator=imm_bcg").content.decode()
    rows = coverage_rows(html)
    assert rows[A] == EXPECTED_BCG["2026-Q2"][A]
    assert rows[B] == EXPECTED_BCG["2026-Q2"][B]


def test_below_target_rows_are_highlighted(loaded) -> None:
    html = signed_in("sup").get(COVERAGE_Q3).content.decode()
    # 450123101 has 2/3 = 66.7% against a 95% target; 450123102 1/1 meets it
    assert f'<tr data-township="{A}" class="below' in html
    assert f'<tr data-township="{B}" class="">' in html
    assert "66.7%" in html


def test_downloads_and_map_use_the_coverage_api_with_the_same_view(loaded) -> None:
    html = signed_in("sup").get(COVERAGE_Q3).content.decode()
    same = "period=2026-Q3&amp;indicator=imm_bcg&amp;county=450123"
    assert f'href="/api/coverage/?{same}&amp;format=csv"' in html
    assert f'href="/api/coverage/?{same}&amp;format=xlsx"' in html
    assert f'href="/api/coverage/geojson?{same}"' in html
    assert f'src="/api/coverage/map.png?{same}"' in html


def test_the_download_links_work_with_the_page_session(loaded) -> None:
    sup = signed_in("sup")
    same = "period=2026-Q3&indicator=imm_bcg&county=450123"
    csv = sup.get(f"/api/coverage/?{same}&format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert A in csv.content.decode() and OTHER not in csv.content.decode()
    geojson = sup.get(f"/api/coverage/geojson?{same}")
    assert geojson.status_code == 200
    codes = {f["properties"].get("township_code") for f in geojson.json()["features"]}
    assert A in codes and OTHER not in codes


def test_analyst_sees_every_county_and_no_names(loaded) -> None:
    analyst = signed_in("analyst")
    html = analyst.get(COVERAGE_Q3).content.decode()
    rows = coverage_rows(html)
    assert rows[OTHER] == EXPECTED_BCG["2026-Q3"][OTHER]
    assert rows[A] == EXPECTED_BCG["2026-Q3"][A]
    assert len(rows) > 200  # the whole province's townships
    assert_no_names(html)


def test_a_supervisor_cannot_ask_for_another_county(loaded) -> None:
    response = signed_in("other_sup").get(COVERAGE_Q3 + "&county=450123")
    assert response.status_code == 400  # not a choice of theirs
    html = signed_in("other_sup").get(COVERAGE_Q3).content.decode()
    assert A not in coverage_rows(html)
    assert coverage_rows(html)[OTHER] == EXPECTED_BCG["2026-Q3"][OTHER]


def test_a_bad_period_is_a_clear_error(loaded) -> None:
    response = signed_in("sup").get("/dashboard/coverage/?period=2026-Q9")
    assert response.status_code == 400
    assert "2026-Q9" in response.content.decode()


def test_programme_picks_its_first_indicator(loaded) -> None:
    html = signed_in("sup").get("/dashboard/coverage/?period=2026-Q3&programme=nutrition")
    assert html.status_code == 200
    assert '<option value="nutrition_coverage" data-programme="nutrition" selected>' in (
        html.content.decode()
    )


# -- township ----------------------------------------------------------------------------


def test_township_page_shows_every_indicator_over_eight_quarters(loaded) -> None:
    response = signed_in("sup").get(f"/dashboard/townships/{A}/?until=2026-Q3")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<article class="trend-card') == 36
    assert html.count('<svg class="trend"') == 36
    assert "2024-Q4" in html and "2026-Q3" in html
    bcg = html.split('data-indicator="imm_bcg"')[1].split("</article>")[0]
    assert '<td>2026-Q3</td><td class="num">2</td><td class="num">3</td>' in bcg
    assert '<td>2026-Q2</td><td class="num">1</td><td class="num">2</td>' in bcg
    assert_no_names(html)


def test_township_outside_the_scope_is_refused(loaded) -> None:
    assert signed_in("other_sup").get(f"/dashboard/townships/{A}/").status_code == 403
    assert signed_in("sup").get("/dashboard/townships/999999999/").status_code == 404
    assert signed_in("analyst").get(f"/dashboard/townships/{A}/").status_code == 200


# -- data quality and the quarantine -------------------------------------------------------


def test_quality_counts_and_quarantine_for_the_supervisor(loaded) -> None:
    html = signed_in("sup").get("/dashboard/quality/?period=2026-Q3").content.decode()
    # received in Q3: K5 and K3's second record (accepted) and two refusals; the counts
    # are per township, so only the refusal placed in a township of the county counts
    assert 'id="accepted-total">2<' in html
    assert 'id="rejected-total">1<' in html
    assert 'id="conflicts-total">1 / 0<' in html  # K3: girl, then boy
    assert 'data-reason="outside_scope"' in html
    # the quarantine list holds both: the unknown township is in the supervisor's county
    assert html.count("<tr data-quarantine=") == 2


def test_analyst_sees_quality_counts_but_no_quarantine(loaded) -> None:
    analyst = signed_in("analyst")
    html = analyst.get("/dashboard/quality/?period=2026-Q3").content.decode()
    assert 'id="rejected-total">2<' in html
    assert 'data-reason="unknown_township"' in html and 'data-reason="outside_scope"' in html
    assert "data-quarantine=" not in html
    assert_no_names(html)
    qid = loaded["unknown_township"].quarantine_id
    assert analyst.get(f"/dashboard/quarantine/{qid}/").status_code == 403


def test_quarantined_xml_is_shown_escaped(loaded) -> None:
    qid = loaded["unknown_township"].quarantine_id
    html = signed_in("sup").get(f"/dashboard/quarantine/{qid}/").content.decode()
    raw = html.split('<pre id="raw-xml">')[1].split("</pre>")[0]
    assert "&lt;data id=&quot;immunization&quot;" in raw and "<data" not in raw
    assert "unknown_township" in html


def test_reprocess_needs_csrf_then_accepts_and_is_audited(loaded, server) -> None:
    from server.accounts.services import user_set_role
    from server.core.couch import cradle_db

    qid = loaded["outside_scope"].quarantine_id
    client = signed_in("sup", enforce_csrf_checks=True)
    assert client.post(f"/dashboard/quarantine/{qid}/reprocess").status_code == 403
    page = client.get(f"/dashboard/quarantine/{qid}/")
    token = (page.cookies.get("csrftoken") or client.cookies["csrftoken"]).value

    # judged within the worker's own area, whoever clicks: still refused
    response = client.post(f"/dashboard/quarantine/{qid}/reprocess", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == f"/dashboard/quarantine/{qid}/"
    held = client.get(f"/dashboard/quarantine/{qid}/").content.decode()
    assert "仍未通过检查" in held and 'id="reprocess"' in held

    # once an admin gives the worker that township too, the same click accepts it
    user_set_role(username="worker", role="health_worker", areas=[A, B], actor="admin")
    client.post(f"/dashboard/quarantine/{qid}/reprocess", {"csrfmiddlewaretoken": token})
    after = client.get(f"/dashboard/quarantine/{qid}/").content.decode()
    assert "已重新处理：提交已接受" in after
    assert 'id="reprocess"' not in after
    events = [e for e in entries(cradle_db("audit")) if e["action"] == "submission.reprocessed"]
    assert [(e["actor"], e["source"], e["target"], e["detail"]["result"]) for e in events] == [
        ("sup", "dashboard", qid, "quarantined"),
        ("sup", "dashboard", qid, "created"),
    ]


def test_reprocess_outside_the_scope_is_not_found(loaded) -> None:
    qid = loaded["outside_scope"].quarantine_id
    response = signed_in("other_sup").post(f"/dashboard/quarantine/{qid}/reprocess")
    assert response.status_code == 404  # as for any ID outside the area: no existence leak


# -- language ----------------------------------------------------------------------------


def test_chinese_by_default_and_english_on_request(loaded) -> None:
    sup = signed_in("sup")
    zh = sup.get(COVERAGE_Q3).content.decode()
    assert '<html lang="zh-Hans">' in zh and "覆盖率" in zh and "都桐镇" in zh
    switched = sup.post("/i18n/setlang/", {"language": "en", "next": COVERAGE_Q3})
    assert switched.status_code == 302 and switched["Location"] == COVERAGE_Q3
    en = sup.get(COVERAGE_Q3).content.decode()
    assert '<html lang="en">' in en
    assert "Coverage" in en and "Dutong Town" in en and "BCG" in en
    assert "覆盖率" not in en


def test_an_admin_sees_every_page_and_every_county(loaded, monkeypatch) -> None:
    from django.contrib.auth import get_user_model

    monkeypatch.delenv("CRADLE_CENTRAL_CONFIG", raising=False)
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    admin = signed_in("root")
    qid = loaded["unknown_township"].quarantine_id
    for path in (
        COVERAGE_Q3,
        f"/dashboard/townships/{OTHER}/",
        "/dashboard/quality/?period=2026-Q3",
        f"/dashboard/quarantine/{qid}/",
        "/dashboard/sync/",
    ):
        response = admin.get(path)
        assert response.status_code == 200, path
    html = admin.get(COVERAGE_Q3).content.decode()
    assert 'href="/admin/"' in html
    assert coverage_rows(html)[OTHER] == EXPECTED_BCG["2026-Q3"][OTHER]


def test_report_pages_read_only_the_changes_feed(loaded) -> None:
    """The coverage, township and quality pages, the coverage API and a map read the
    local cache kept from `_changes`, whatever the database size: no query, no scan."""
    from tests.support.scanguard import no_scans

    sup = signed_in("sup")
    paths = (
        COVERAGE_Q3,
        f"/dashboard/townships/{A}/?until=2026-Q3",
        "/dashboard/quality/?period=2026-Q3",
        "/api/coverage/?period=2026-Q3&county=450123&format=json",
        "/api/coverage/map.png?period=2026-Q3&indicator=imm_bcg&county=450123",
    )
    for path in paths:
        assert sup.get(path).status_code == 200, path  # the cache built once
    read = {}
    for path in paths:
        with no_scans() as log:
            assert sup.get(path).status_code == 200, path
        read[path] = sorted(set(log.kinds()))
    assert read == {
        **{path: ["_changes"] for path in paths},
        # and the page of quarantined records below the table: their documents by key
        "/dashboard/quality/?period=2026-Q3": ["_bulk_get", "_changes"],
    }


def test_couchdb_unreachable_gives_a_clear_page(loaded, settings, tmp_path, monkeypatch) -> None:
    from server.core.couch import reset_couch

    # a source of the supervisor's county, so the sync page has runs to read
    (tmp_path / "pyodk.toml").write_text(
        '[central]\nbase_url = "http://127.0.0.1:9"\nusername = "u@x.cn"\npassword = "p"\n'
    )
    (tmp_path / "central.toml").write_text(
        '[[source]]\nname = "gx"\npyodk_config = "pyodk.toml"\nproject_id = 1\n'
        f'counties = ["{A[:6]}"]\n[source.forms]\nimmunization = "immunization"\n'
    )
    monkeypatch.setenv("CRADLE_CENTRAL_CONFIG", str(tmp_path / "central.toml"))
    sup = signed_in("sup")
    settings.COUCHDB = {**settings.COUCHDB, "URL": "http://127.0.0.1:9", "RETRIES": 0}
    settings.DATA_DIR = settings.DATA_DIR / "elsewhere"  # no cache to fall back on
    reset_couch()
    for path in (COVERAGE_Q3, "/dashboard/quality/?period=2026-Q3", "/dashboard/sync/"):
        response = sup.get(path)
        assert response.status_code == 503, path
        assert "暂时无法显示" in response.content.decode()
    reset_couch()
