"""Where generated submissions go: a folder (JSON lines, Parquet truth, manifest) or CouchDB.

The CouchDB sink sends batches through the ingestion core (`Ingestor.ingest_many`), the
same code the OpenRosa endpoint uses, and compares every answer with the truth.
"""

from __future__ import annotations

import gzip
import io
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from forms.catalog import FormCatalog
from forms.registry import Registry
from forms.synthetic.options import SyntheticError
from forms.synthetic.stream import Delivery
from sync.couch import CouchClient, CouchSettings
from sync.ingest.normalize import Places
from sync.ingest.store import Incoming, Ingestor
from sync.schema import db_name, ensure_schema

SUBMISSIONS_FILE = "submissions.jsonl"
TRUTH_DIR = "truth"
MANIFEST_FILE = "manifest.json"
COUCH_BATCH = 500
SUBMITTER = "cradle-demo"


# -- folder ---------------------------------------------------------------------------------


class FolderSink:
    """Writes `submissions.jsonl` (or `.jsonl.gz`) line by line, in arrival order.

    Gzip output has no timestamp or file name in its header, so the same lines give the
    same bytes.
    """

    def __init__(self, out_dir: Path, *, compress: bool = False) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        name = SUBMISSIONS_FILE + (".gz" if compress else "")
        self.path = out_dir / name
        stale = out_dir / (SUBMISSIONS_FILE + ("" if compress else ".gz"))
        stale.unlink(missing_ok=True)
        self._raw = self.path.open("wb")
        self._file: io.BufferedIOBase = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
            if compress
            else self._raw
        )
        self.lines = 0

    def write(self, deliveries: Sequence[Delivery]) -> None:
        """Append one JSON object per delivery."""
        dumps = orjson.dumps
        self._file.write(
            b"".join(
                dumps(
                    {
                        "form_id": d.form_id,
                        "instance_id": d.instance_id,
                        "received_at": d.received_at,
                        "xml": d.xml,
                    }
                )
                + b"\n"
                for d in deliveries
            )
        )
        self.lines += len(deliveries)

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not self._raw:
            self._file.close()
        self._raw.close()


def write_truth(out_dir: Path, tables: Iterable[tuple[str, pa.Table]]) -> list[Path]:
    """One Parquet file per truth table in `out_dir/truth/`."""
    folder = out_dir / TRUTH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in tables:
        path = folder / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    return paths


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    """`manifest.json`, indented, keys in the order given."""
    path = out_dir / MANIFEST_FILE
    path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def read_submissions(path: Path) -> list[dict[str, str]]:
    """The lines of a `submissions.jsonl` or `.jsonl.gz` file (for tests and tools)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return [orjson.loads(line) for line in data.splitlines() if line]


# -- CouchDB --------------------------------------------------------------------------------


@dataclass
class LoadSummary:
    """What the ingestion core answered, and where it disagreed with the truth."""

    results: Counter[str] = field(default_factory=Counter)
    valid_quarantined: list[str] = field(default_factory=list)
    invalid_accepted: list[str] = field(default_factory=list)
    wrong_reason: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line: created / updated / unchanged / quarantined counts."""
        keys = ("created", "updated", "unchanged", "topped_up", "quarantined")
        counts = ", ".join(
            f"{self.results[k]} {k}" for k in keys if self.results[k] or k != "topped_up"
        )
        return f"couch: {counts}"

    def check(self) -> None:
        """`SyntheticError` in one line if the server's answers contradict the truth."""
        if self.valid_quarantined:
            raise SyntheticError(
                f"{len(self.valid_quarantined)} valid submissions were quarantined, "
                f"first: {self.valid_quarantined[0]}"
            )
        if self.invalid_accepted:
            raise SyntheticError(
                f"{len(self.invalid_accepted)} invalid submissions were accepted, "
                f"first: {self.invalid_accepted[0]}"
            )
        if self.wrong_reason:
            raise SyntheticError(
                f"{len(self.wrong_reason)} submissions were quarantined for another reason, "
                f"first: {self.wrong_reason[0]}"
            )


class CouchSink:
    """Sends deliveries through `Ingestor.ingest_many` in batches and tallies the answers."""

    def __init__(self, ingestor: Ingestor, *, batch: int = COUCH_BATCH) -> None:
        self.ingestor = ingestor
        self.batch = batch
        self.summary = LoadSummary()
        self._pending: list[Delivery] = []

    def write(self, deliveries: Sequence[Delivery]) -> None:
        """Queue deliveries; full batches are sent at once."""
        self._pending.extend(deliveries)
        while len(self._pending) >= self.batch:
            self._send(self._pending[: self.batch])
            del self._pending[: self.batch]

    def close(self) -> None:
        """Send what is left."""
        if self._pending:
            self._send(self._pending)
            self._pending = []

    def _send(self, deliveries: Sequence[Delivery]) -> None:
        incoming = [
            Incoming(
                xml=d.xml.encode("utf-8"),
                source="openrosa",
                submitter=SUBMITTER,
                received_at=datetime.fromtimestamp(d.received_ms / 1000, tz=UTC),
            )
            for d in deliveries
        ]
        outcomes = self.ingestor.ingest_many(incoming)
        for d, outcome in zip(deliveries, outcomes, strict=True):
            self.summary.results[outcome.result] += 1
            quarantined = outcome.result == "quarantined"
            codes = [p.code for p in outcome.problems]
            if quarantined and d.expected != "quarantined":
                self.summary.valid_quarantined.append(f"{d.instance_id} ({' '.join(codes)})")
            elif not quarantined and d.expected == "quarantined":
                self.summary.invalid_accepted.append(f"{d.instance_id} ({d.reason})")
            elif quarantined and codes != [d.reason]:
                self.summary.wrong_reason.append(
                    f"{d.instance_id} ({' '.join(codes)}, expected {d.reason})"
                )


def registry_places(registry: Registry) -> Places:
    """Township → county, as validation needs it."""
    townships = registry.townships
    return Places.from_pairs(
        dict(zip(townships["township_code"], townships["county_code"], strict=True))
    )


def local_today() -> date:
    """Today where the health workers are (the server's rule for future dates)."""
    return datetime.now(ZoneInfo(os.environ.get("CRADLE_TIME_ZONE", "Asia/Shanghai"))).date()


def build_ingestor(
    client: CouchClient,
    prefix: str,
    forms_dir: Path,
    registry: Registry,
    today: Callable[[], date] = local_today,
) -> Ingestor:
    """The ingestion core on Cradle's databases under `prefix` (created if missing)."""
    ensure_schema(client, prefix)
    return Ingestor(
        submissions=client.db(db_name(prefix, "submissions")),
        quarantine_db=client.db(db_name(prefix, "quarantine")),
        catalog=FormCatalog.from_dir(forms_dir),
        places=registry_places(registry),
        today=today,
    )


def client_from_env() -> tuple[CouchClient, str]:
    """A client from `COUCHDB_URL`, `COUCHDB_USER`, `COUCHDB_PASSWORD`, and the database
    prefix from `COUCHDB_DB_PREFIX` (default `cradle_`)."""
    url = os.environ.get("COUCHDB_URL")
    if not url:
        raise SyntheticError("--couch needs COUCHDB_URL (and COUCHDB_USER, COUCHDB_PASSWORD)")
    settings = CouchSettings.from_url(
        url,
        username=os.environ.get("COUCHDB_USER", ""),
        password=os.environ.get("COUCHDB_PASSWORD", ""),
    )
    return CouchClient(settings), os.environ.get("COUCHDB_DB_PREFIX", "cradle_")
