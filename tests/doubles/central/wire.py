"""Requests and responses as the double's routes see them, and the codecs they need."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from functools import cached_property
from typing import Any
from urllib.parse import unquote

import orjson

from tests.doubles.central import problems
from tests.doubles.central.odata import query_pairs

JSON = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    target: str  # raw request target: /v1/...?query
    headers: Message
    body: bytes = b""

    @cached_property
    def raw_path(self) -> str:
        return self.target.split("?", 1)[0]

    @cached_property
    def raw_query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @cached_property
    def segments(self) -> list[str]:
        return [unquote(part) for part in self.raw_path.split("/")[1:]]

    @cached_property
    def params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for key, value in query_pairs(self.raw_query):
            params.setdefault(key, value)
        return params

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        try:
            return orjson.loads(self.body or b"null")
        except orjson.JSONDecodeError as e:
            raise problems.unparseable("json", len(self.body.decode("utf-8", "replace"))) from e


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, orjson.dumps(data), JSON, headers or {})


def problem_response(problem: problems.Problem) -> Response:
    return json_response(problem.body(), problem.status)


_DISPOSITION = re.compile(r'\b(name|filename)="((?:[^"\\]|\\.)*)"', re.I)


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def multipart(body: bytes, content_type: str | None) -> list[Part]:
    """Parse a `multipart/form-data` body into its parts."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.I)
    if match is None or not (content_type or "").lower().startswith("multipart/"):
        raise problems.Problem(400.39, "Multipart form content failed to parse.")
    delimiter = b"--" + match.group(1).encode()
    parts: list[Part] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        fields: dict[str, str] = {}
        part_type = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                fields = {k.lower(): v for k, v in _DISPOSITION.findall(value)}
            elif key.strip().lower() == "content-type":
                part_type = value.strip()
        if "name" in fields:
            parts.append(Part(fields["name"], fields.get("filename"), part_type, data))
    return parts


def read_chunked(stream: Any) -> bytes:
    """Read a `Transfer-Encoding: chunked` body from a file-like socket reader."""
    out = bytearray()
    while True:
        size_line = stream.readline(65537)
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += stream.read(size)
        stream.readline(65537)
