"""Chunked request bodies for Django under WSGI.

ODK Collect may send a submission with `Transfer-Encoding: chunked` and no
Content-Length. gunicorn de-chunks it and marks the stream `wsgi.input_terminated`,
but Django reads only CONTENT_LENGTH bytes and would see an empty body. This middleware
spools such a body (bounded: one byte past the limit is enough to refuse it) and sets
CONTENT_LENGTH, so the views see the whole request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from typing import Any

SPOOL_IN_MEMORY = 1024 * 1024
_READ = 64 * 1024


class ChunkedBodyMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], max_bytes: Callable[[], int]) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            limit = self.max_bytes() + 1
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
            size = 0
            stream = environ["wsgi.input"]
            while size < limit:
                piece = stream.read(min(_READ, limit - size))
                if not piece:
                    break
                spool.write(piece)
                size += len(piece)
            spool.seek(0)
            environ["wsgi.input"] = spool
            environ["CONTENT_LENGTH"] = str(size)
        return self.app(environ, start_response)
