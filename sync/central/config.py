"""Which ODK Central projects and forms Cradle pulls: a TOML file named by `CRADLE_CENTRAL_CONFIG`.

```toml
[[source]]
name = "guangxi"                     # what `cradle sync central --source` names
pyodk_config = "pyodk_config.toml"   # pyodk's own file: [central] base_url, username, password
project_id = 5
counties = ["450123", "450124"]      # the counties it serves: supervisors of them may run it
# optional: pyodk_cache = "...", page_size = 1000, batch_size = 500, overlap_seconds = 1.0,
#           retries = 6, backoff_seconds = 0.5
[source.forms]
immunization = "immunization"        # Central xmlFormId = Cradle form id
```

Relative paths are read from the folder of this file. Credentials stay in pyodk's file;
this one only says what to pull and where it goes. `counties` says whose data the project
holds: a supervisor sees and starts a source only when all its counties are in their area;
a source without `counties` serves the whole province and only admins run it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forms.contract import CONTRACTS
from sync.errors import CentralError

ENV_VAR = "CRADLE_CENTRAL_CONFIG"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_COUNTY = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Source:
    """One Central project and the forms pulled from it."""

    name: str
    pyodk_config: Path
    pyodk_cache: Path
    project_id: int
    forms: Mapping[str, str]  # Central xmlFormId -> Cradle form id
    base_url: str = field(compare=False)
    username: str = field(compare=False)
    page_size: int = 1000  # Central's fixed cost per request makes 1000 the sweet spot
    batch_size: int = 500  # CouchDB gains nothing from bulk writes above ~500 documents
    overlap_seconds: float = 1.0
    retries: int = 6  # per request, for connection errors, 429 and 5xx
    backoff_seconds: float = 0.5  # first wait; doubles each retry (Retry-After wins)
    counties: frozenset[str] = frozenset()  # whose data it holds; empty: the whole province

    @property
    def server(self) -> str:
        """The Central server as it names checkpoints: its base URL without `/v1`."""
        return self.base_url.rstrip("/").removesuffix("/v1")

    def describe(self) -> dict[str, Any]:
        """What an API may show about the source (no credentials, no file paths)."""
        return {
            "name": self.name,
            "server": self.server,
            "project_id": self.project_id,
            "forms": dict(self.forms),
            "counties": sorted(self.counties),
        }


def configured() -> bool:
    """Whether Central sources are configured at all (the integration is optional)."""
    return bool(os.environ.get(ENV_VAR))


def config_path(path: str | Path | None = None) -> Path:
    """The configuration file: `path`, else `$CRADLE_CENTRAL_CONFIG`."""
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        raise CentralError(f"no ODK Central sources configured: set {ENV_VAR} to a TOML file")
    return Path(chosen)


def load_sources(path: str | Path | None = None) -> list[Source]:
    """Every configured source, checked; a `CentralError` names the first problem."""
    file = config_path(path)
    data = _read_toml(
        file, f"{file}: the Central sources file", f"{file}: cannot read the Central sources file"
    )
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise CentralError(f"{file}: no [[source]] entries")
    sources = [_source(file, i, entry) for i, entry in enumerate(entries, 1)]
    names = [s.name for s in sources]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CentralError(f"{file}: source names must be unique: {', '.join(duplicated)}")
    return sources


def find_source(sources: Sequence[Source], name: str) -> Source:
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in sources)
    raise CentralError(f"no Central source named {name!r} (configured: {known})")


def _source(file: Path, index: int, entry: Any) -> Source:
    where = f"{file}: source {index}"
    if not isinstance(entry, dict):
        raise CentralError(f"{where}: must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CentralError(f"{where}: `name` must be letters, digits, '_', '.' or '-'")
    where = f"{file}: source {name!r}"
    project_id = entry.get("project_id")
    if not isinstance(project_id, int) or isinstance(project_id, bool) or project_id < 1:
        raise CentralError(f"{where}: `project_id` must be a positive integer")
    forms = entry.get("forms")
    if not isinstance(forms, dict) or not forms:
        raise CentralError(f"{where}: [source.forms] must map Central form ids to Cradle forms")
    for central_id, cradle_id in forms.items():
        if cradle_id not in CONTRACTS:
            raise CentralError(
                f"{where}: form {central_id!r} maps to {cradle_id!r}, "
                f"not one of {', '.join(CONTRACTS)}"
            )
    counties = entry.get("counties", [])
    if not isinstance(counties, list) or not all(
        isinstance(c, str) and _COUNTY.match(c) for c in counties
    ):
        raise CentralError(f"{where}: `counties` must be a list of 6-digit county codes")
    pyodk_config = _path(file, entry.get("pyodk_config"), where, "pyodk_config")
    base_url, username = _read_pyodk(pyodk_config, where)
    cache = entry.get("pyodk_cache")
    pyodk_cache = (
        _path(file, cache, where, "pyodk_cache")
        if cache is not None
        else pyodk_config.with_name(f".pyodk-cache-{name}.toml")
    )
    return Source(
        name=name,
        pyodk_config=pyodk_config,
        pyodk_cache=pyodk_cache,
        project_id=project_id,
        forms=dict(forms),
        base_url=base_url,
        username=username,
        page_size=_positive(entry, "page_size", 1000, where, int),
        batch_size=_positive(entry, "batch_size", 500, where, int),
        overlap_seconds=_positive(entry, "overlap_seconds", 1.0, where, float),
        retries=_positive(entry, "retries", 6, where, int),
        backoff_seconds=_positive(entry, "backoff_seconds", 0.5, where, float),
        counties=frozenset(counties),
    )


def _path(file: Path, value: Any, where: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise CentralError(f"{where}: `{key}` must be a file path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (file.parent / path)


def _positive(entry: dict, key: str, default: Any, where: str, kind: type) -> Any:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise CentralError(f"{where}: `{key}` must be a positive number")
    return kind(value)


def _read_pyodk(path: Path, where: str) -> tuple[str, str]:
    """The server and user from pyodk's own file (pyodk reads the password itself)."""
    data = _read_toml(
        path, f"{where}: pyodk config {path}", f"{where}: cannot read pyodk config {path}"
    )
    central = data.get("central")
    if not isinstance(central, dict):
        raise CentralError(f"{where}: pyodk config {path} has no [central] table")
    for key in ("base_url", "username", "password"):
        if not isinstance(central.get(key), str) or not central[key]:
            raise CentralError(f"{where}: pyodk config {path} needs [central] {key}")
    return central["base_url"], central["username"]


def _read_toml(path: Path, missing: str, unreadable: str) -> dict[str, Any]:
    """A TOML file's tables; a `CentralError` saying `missing` (+ "does not exist") or
    `unreadable` (+ the parser's reason)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CentralError(f"{missing} does not exist") from e
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise CentralError(f"{unreadable}: {e}") from e
