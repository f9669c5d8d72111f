"""Drive ODK's form engine (`harness.mjs`, Node) from Python: one Node process answers many jobs.

    with Engine() as engine:
        result = engine.fill(forms / "immunization.xml", [("county", "450123"), ...])
        assert result.ok, result.violations

Node and the pinned `@getodk/xforms-engine` come from `npm ci` (`make test` runs it); without
them `Engine()` raises `EngineError`, so a broken setup fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("harness.mjs")
ENGINE_PACKAGE = "@getodk/xforms-engine"
#: Tablets in Guangxi run on China Standard Time; the engine's preloads and today() use it.
TIME_ZONE = "Asia/Shanghai"
JOB_TIMEOUT_S = 60.0

#: An answer: (field name or absolute ref, value); a select_multiple value is a list or a
#: space-separated string, None clears the question.
Answer = tuple[str, Any]


class EngineError(RuntimeError):
    """The engine could not run a job: Node or the npm packages are missing, the form does not
    load, or a job names a node the form does not have."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A constraint or required rule the engine reports, with its message in both languages."""

    ref: str
    field: str
    kind: str
    message_zh: str | None
    message_en: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer the engine did not let the health worker give, and why: `not_relevant`,
    `not_an_option` (with the options it offered), `readonly`, `not_a_question`, `not_accepted`."""

    ref: str
    field: str
    value: Any
    reason: str
    options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class EngineResult:
    """What the engine made of one filled form."""

    ok: bool
    status: str
    violations: tuple[Violation, ...]
    refused: tuple[Refusal, ...]
    answers: tuple[dict[str, Any], ...]
    relevant: dict[str, bool]
    values: dict[str, str]
    options: dict[str, list[str]]
    languages: tuple[str, ...]
    instance_xml: str

    @property
    def xml(self) -> bytes:
        """The submission as Collect would post it (`xml_submission_file`)."""
        return self.instance_xml.encode("utf-8")

    @property
    def instance_id(self) -> str:
        return self.values["instanceID"]

    def violation(self, field: str) -> Violation | None:
        return next((v for v in self.violations if v.field == field), None)


def _result(raw: Mapping[str, Any]) -> EngineResult:
    return EngineResult(
        ok=raw["ok"],
        status=raw["status"],
        violations=tuple(Violation(**v) for v in raw["violations"]),
        refused=tuple(
            Refusal(
                ref=r["ref"],
                field=r["field"],
                value=r["value"],
                reason=r["reason"],
                options=tuple(r["options"]) if "options" in r else None,
            )
            for r in raw["refused"]
        ),
        answers=tuple(raw["answers"]),
        relevant=raw["relevant"],
        values=raw["values"],
        options=raw["options"],
        languages=tuple(raw["languages"]),
        instance_xml=raw["instance_xml"],
    )


def _check_installation() -> str:
    node = shutil.which("node")
    if node is None:
        raise EngineError("node is not installed: the form engine tests need Node 20")
    installed = REPO / "node_modules" / ENGINE_PACKAGE / "package.json"
    if not installed.is_file():
        raise EngineError(f"{ENGINE_PACKAGE} is not installed: run `npm ci` (make test does)")
    wanted = json.loads((REPO / "package.json").read_text())["dependencies"][ENGINE_PACKAGE]
    version = json.loads(installed.read_text())["version"]
    if version != wanted:
        raise EngineError(f"{ENGINE_PACKAGE} {version} is installed, package.json pins {wanted}")
    return node


class Engine:
    """One Node process running `harness.mjs`; jobs go as JSON lines, one result line each."""

    def __init__(self) -> None:
        node = _check_installation()
        # stderr to a file: a pipe nobody reads could fill up and stall the harness.
        self._stderr_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self._process = subprocess.Popen(
            [node, str(HARNESS)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
            encoding="utf-8",
            env={**os.environ, "TZ": TIME_ZONE},
        )
        self._jobs = 0

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()
        self._stderr_file.close()

    def fill(
        self,
        xform: Path,
        answers: Iterable[Answer] | Mapping[str, Any],
        *,
        media_dir: Path | None = None,
        device_id: str | None = None,
    ) -> EngineResult:
        """Load `xform` (media from `media_dir`, by default `<form>-media/` beside it), answer
        it in order, and return what the engine reports."""
        pairs = answers.items() if isinstance(answers, Mapping) else answers
        self._jobs += 1
        job: dict[str, Any] = {
            "id": self._jobs,
            "xform": str(xform),
            "answers": [_answer(key, value) for key, value in pairs],
        }
        if media_dir is not None:
            job["media_dir"] = str(media_dir)
        if device_id is not None:
            job["device_id"] = device_id
        raw = self._run(job)
        if "error" in raw:
            raise EngineError(f"{Path(xform).name}: {raw['error']}")
        return _result(raw)

    def _run(self, job: Mapping[str, Any]) -> dict[str, Any]:
        process = self._process
        try:
            process.stdin.write(json.dumps(job, ensure_ascii=False) + "\n")
            process.stdin.flush()
        except BrokenPipeError as e:
            raise EngineError(f"the engine harness exited: {self._stderr()}") from e
        ready, _, _ = select.select([process.stdout], [], [], JOB_TIMEOUT_S)
        line = process.stdout.readline() if ready else ""
        if not line:
            if process.poll() is None:
                process.kill()
                raise EngineError(f"the engine harness did not answer in {JOB_TIMEOUT_S:g} s")
            raise EngineError(f"the engine harness exited: {self._stderr()}")
        raw = json.loads(line)
        if raw.get("id") != job["id"]:
            raise EngineError(f"the engine harness answered job {raw.get('id')}, not {job['id']}")
        return raw

    def _stderr(self) -> str:
        self._process.wait(timeout=10)
        self._stderr_file.seek(0)
        return " ".join(self._stderr_file.read().split())[-2000:]


def _answer(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = list(value)
    return {"ref" if key.startswith("/") else "field": key, "value": value}
