"""The rows of `--only paths`: each path a person or tablet waits on, timed through a
running Cradle as its user would call it (Digest for the tablet, a session for the pages)."""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from urllib.parse import urlsplit

import httpx

from benchmarks.common import Result
from benchmarks.paths_churn import Journal, churn, sample_documents
from benchmarks.paths_data import resubmitted_xml
from benchmarks.paths_http import (
    COUCH_PASSWORD,
    COUCH_USER,
    Cradle,
    Samples,
    digest_client,
    session_client,
    timed,
)
from forms.synthetic.options import DEFAULT_UNTIL
from sync.couch import Database
from tests.support.servers import multipart

PREFIX = "cradle_"
PASSWORD = "bench-paths-2026"  # noqa: S105 - throw-away logins of a local benchmark
WORKER, SUPERVISOR, ANALYST = "bench_worker", "bench_supervisor", "bench_analyst"
JOURNAL = "changes.json"
GOAL_PAGE_MS, GOAL_API_MS, GOAL_STALE_MS, GOAL_KEEP_UP, GOAL_MB = 1000, 300, 50, 0.10, 1024
GOAL_MAP_MS = 3000  # one indicator, one county


def say(message: str) -> None:
    print(f"paths: {message}", flush=True)


def last_full_quarter(until: date) -> str:
    """The last calendar quarter that ended on or before `until`, e.g. `2026-Q3`."""
    quarter = (until.month - 1) // 3 + 1
    following = date(until.year + 1, 1, 1) if quarter == 4 else date(until.year, quarter * 3 + 1, 1)
    if until < following - timedelta(days=1):
        quarter -= 1
    return f"{until.year}-Q{quarter}" if quarter else f"{until.year - 1}-Q4"


def _rows(name: str, s: Samples, baseline: Samples | None, goal: float | None) -> list[Result]:
    """p50 and p95 of one path; the goal (on p95) is judged only when nothing failed."""
    base = (lambda q: baseline.p(q)) if baseline else (lambda q: None)
    note = s.note() + (f"; not judged: {len(s.failures)} failed" if s.failures else "")
    return [
        Result(f"paths.{name}.p50", s.p(50), "ms", base(50), len(s.ms), note),
        Result(f"paths.{name}.p95", s.p(95), "ms", base(95), len(s.ms), note,
               goal=None if s.failures else goal),
    ]  # fmt: skip


class Bench:
    """One run against a loaded data set: the clients, the URLs, what was measured."""

    def __init__(self, cradle: Cradle, couch_url: str, info: dict, requests: int) -> None:
        self.n, self.info = requests, info
        self.township, self.county = info["township"], info["county"]
        self.period = last_full_quarter(DEFAULT_UNTIL)
        self.worker = digest_client(cradle.url, WORKER, PASSWORD)
        self.supervisor = session_client(cradle.url, SUPERVISOR, PASSWORD)
        self.analyst = session_client(cradle.url, ANALYST, PASSWORD)
        self.couch = httpx.Client(
            base_url=couch_url, auth=(COUCH_USER, COUCH_PASSWORD), timeout=300
        )
        self.results: list[Result] = []
        self.paths: dict[str, Callable[[], httpx.Response]] = {}

    def close(self) -> None:
        for client in (self.worker, self.supervisor, self.analyst, self.couch):
            client.close()

    def baselines(self) -> tuple[Samples, Samples]:
        """CouchDB itself, same run: one document `GET`; 500 documents by `_all_docs`."""
        doc = f"/{PREFIX}submissions/{self.info['stale_chains'][0]['original']}"
        one = timed(lambda: self.couch.get(doc), max(self.n, 30))
        page = timed(
            lambda: self.couch.get(
                f"/{PREFIX}submissions/_all_docs", params={"limit": 500, "include_docs": "true"}
            ),
            max(self.n, 30),
        )
        self.results += _rows("baseline.get_doc", one, None, None)
        self.results += _rows("baseline.all_docs_500", page, None, None)
        return one, page

    def manifest(self, page: Samples) -> None:
        """What Collect does to update a form's media: the manifest, then `children.csv`."""
        found = self.worker.get("/forms/immunization/manifest")
        root = ET.fromstring(found.content)  # noqa: S314 - our own server's answer
        urls = {
            (f.findtext("{*}filename") or ""): f.findtext("{*}downloadUrl") or ""
            for f in root.iter("{http://openrosa.org/xforms/xformsManifest}mediaFile")
        }
        csv = (
            urlsplit(urls.get("children.csv", "")).path or "/forms/immunization/media/children.csv"
        )
        rows = self.worker.get(csv).text.count("\n") - 1

        def both() -> httpx.Response:
            first = self.worker.get("/forms/immunization/manifest")
            return first if first.status_code != 200 else self.worker.get(csv)

        s = timed(both, self.n)
        self.results += _rows("manifest_children_csv", s, page, GOAL_PAGE_MS)
        self.results[-1] = _with_note(self.results[-1], f"children.csv: {rows:,} rows")
        self.paths["manifest_children_csv"] = both

    def due(self, page: Samples) -> None:
        t = self.township
        self.paths["due_json"] = lambda: self.supervisor.get("/api/due/", params={"township": t})
        self.paths["due_page"] = lambda: self.supervisor.get(
            "/dashboard/due/", params={"township": t}
        )
        for name in ("due_json", "due_page"):
            self.results += _rows(name, timed(self.paths[name], self.n), page, GOAL_PAGE_MS)

    def submissions(self, one: Samples, journal: Journal) -> None:
        """New submissions (201) and stale edits (409) of the same instances, alternating,
        each a fresh instanceID; the new ones are deleted again at the end of the run."""
        chains = self.info["stale_chains"]
        new_ids = [f"uuid:{uuid.uuid4()}" for _ in range(self.n + 1)]
        journal.add(created=new_ids)  # deleted again at the end of the run

        def post(xml: bytes) -> httpx.Response:
            body, content_type = multipart(xml)
            return self.worker.post(
                "/submission", content=body, headers={"Content-Type": content_type}
            )

        new, stale = Samples(), Samples()
        for i in range(self.n + 1):
            chain = chains[i % len(chains)]
            xml = chain["xml"].encode()
            fresh = resubmitted_xml(xml, new_ids[i])
            edit = resubmitted_xml(xml, f"uuid:{uuid.uuid4()}", chain["original"])
            for samples, body, expect in ((new, fresh, 201), (stale, edit, 409)):
                elapsed = samples.take(lambda b=body: post(b), expect)
                if i == 0:
                    samples.first_ms = elapsed  # untimed: the first of each
                elif elapsed is not None:
                    samples.ms.append(elapsed)
        self.results += _rows("submit_new", new, one, None)
        self.results += _rows("submit_stale_edit", stale, one, None)
        failed = new.failures or stale.failures
        self.results.append(
            Result("paths.stale_minus_new.p95", stale.p(95) - new.p(95), "ms", None,
                   len(stale.ms), "p95(stale edit, 409) - p95(new submission, 201)",
                   goal=None if failed else GOAL_STALE_MS)
        )  # fmt: skip

    def listing(self, page: Samples, budget_s: float = 600) -> None:
        """`/api/submissions/` page 1, then page 100 by following `next` (untimed, bounded
        by `budget_s`), and the `count` the API gives against the database's."""
        first = self.analyst.get("/api/submissions/", params={"limit": 50})
        body = first.json() if first.status_code == 200 else {}
        count = body.get("count")
        self.paths["submissions_p1"] = lambda: self.analyst.get(
            "/api/submissions/", params={"limit": 50}
        )
        self.results += _rows(
            "submissions_p1", timed(self.paths["submissions_p1"], self.n), page, GOAL_API_MS
        )
        url, walked, start = body.get("next"), 1, time.perf_counter()
        while url and walked < 99 and time.perf_counter() - start < budget_s:
            response = self.analyst.get(url)
            url = response.json().get("next") if response.status_code == 200 else None
            walked += 1
        walk_s = time.perf_counter() - start
        notes = [] if count is not None else ["no count in the answer (API before keyset)"]
        if walked == 99 and url:
            page100 = url
            self.paths["submissions_p100"] = lambda: self.analyst.get(page100)
            s = timed(self.paths["submissions_p100"], self.n)
            self.results += _rows("submissions_p100", s, page, GOAL_API_MS)
            notes.append(f"walking to page 100 took {walk_s:,.1f} s")
        else:
            notes.append(f"page 100 not reached: {walked} pages in {walk_s:,.0f} s")
        self.results.append(
            Result("paths.submissions_count", float("nan") if count is None else count,
                   "submissions", self._stored(), 1,
                   "; ".join(["baseline: documents in CouchDB but design documents", *notes]))
        )  # fmt: skip

    def _stored(self) -> int:
        db = f"/{PREFIX}submissions"
        total = self.couch.get(db).json()["doc_count"]
        design = self.couch.get(
            f"{db}/_all_docs", params={"start_key": '"_design/"', "end_key": '"_design0"'}
        )
        return total - len(design.json()["rows"])

    def coverage(self, page: Samples) -> None:
        query = {"period": self.period, "county": self.county}
        self.paths["coverage_page"] = lambda: self.supervisor.get(
            "/dashboard/coverage/", params=query
        )
        self.paths["township_page"] = lambda: self.supervisor.get(
            f"/dashboard/townships/{self.township}/"
        )
        self.paths["coverage_api"] = lambda: self.supervisor.get(
            "/api/coverage/", params=query, headers={"Accept": "application/json"}
        )
        self.paths["map_png"] = lambda: self.supervisor.get(
            "/api/coverage/map.png", params={**query, "indicator": "imm_hepb3"}
        )
        for name in ("coverage_page", "township_page", "coverage_api"):
            self.results += _rows(name, timed(self.paths[name], self.n), page, GOAL_PAGE_MS)
        self.results += _rows("map_png", timed(self.paths["map_png"], self.n), page, GOAL_MAP_MS)

    def keep_up(self, db: Database, journal: Journal, cold: dict[str, float | None]) -> None:
        """1% of the submissions change; then the next request of each path, once."""
        chains = {c[k] for c in self.info["stale_chains"] for k in ("original", "current")}
        docs = sample_documents(db, 0.01, seed=14, exclude=frozenset(chains | set(journal.created)))
        changed = churn(db, docs, journal, seed=14)
        say(f"changed {changed:,} submissions (1%); timing the next request of each path")
        analytics = {"coverage_page", "township_page", "coverage_api", "map_png"}
        for name, send in self.paths.items():
            s = timed(send, 1, warm=False)
            kind = "analytics" if name in analytics else "register"
            base = cold.get(kind)
            note = f"{changed:,} changed; baseline: cold build of the {kind} this run"
            if base is None:
                note += " (not available)"
            self.results.append(
                Result(f"paths.keep_up.{name}", s.p(50) / 1000, "s", base, 1,
                       note + ("; " + s.note() if s.note() else ""),
                       goal=None if s.failures or base is None else GOAL_KEEP_UP,
                       goal_on="ratio")
            )  # fmt: skip


def _with_note(result: Result, extra: str) -> Result:
    return replace(result, note="; ".join(p for p in (result.note, extra) if p))
