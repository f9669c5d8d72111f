"""Size bounds enforced while Django reads a multipart body, before anything is stored.

A file past its bound is skipped (its first bytes kept, so the quarantine can show what
it was); a body past the total bound stops being read. The view then refuses it. Every
`xml_submission_file` part is counted, so a post with two instances is refused rather
than one of them dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http.multipartparser import MAX_TOTAL_HEADER_SIZE, MultiPartParserError

from sync.ingest.problems import Problem
from sync.ingest.store import QUARANTINE_KEEP_BYTES

#: What reading a multipart body may raise; each becomes a readable refusal.
MULTIPART_ERRORS = (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig, MultiPartParserError)

XML_FIELD = "xml_submission_file"


@dataclass
class UploadReport:
    oversize: dict[str, int] = field(default_factory=dict)  # file name -> bytes seen
    xml_head: bytes = b""
    xml_seen: int = 0
    xml_oversize: bool = False
    xml_parts: int = 0  # how many xml_submission_file parts the post had
    total: int = 0
    stopped: bool = False


def report_for(request) -> UploadReport:
    if not hasattr(request, "upload_report"):
        request.upload_report = UploadReport()
    return request.upload_report


class BoundedUploadHandler(FileUploadHandler):
    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self._size = 0
        limits = settings.CRADLE_LIMITS
        self._is_xml = field_name == XML_FIELD
        report = report_for(self.request)
        if self._is_xml:
            report.xml_parts += 1
        self._first_xml = self._is_xml and report.xml_parts == 1  # the one the head shows
        self._limit = limits["MAX_XML_BYTES"] if self._is_xml else limits["MAX_ATTACHMENT_BYTES"]

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        report = report_for(self.request)
        self._size += len(raw_data)
        report.total += len(raw_data)
        if self._first_xml:
            room = QUARANTINE_KEEP_BYTES - len(report.xml_head)
            if room > 0:
                report.xml_head += raw_data[:room]
            report.xml_seen = self._size
        if self._size > self._limit:
            if self._first_xml:
                report.xml_oversize = True
            else:
                report.oversize[self.file_name or self.field_name] = self._size
            raise SkipFile()
        if report.total > settings.CRADLE_LIMITS["MAX_REQUEST_BYTES"]:
            report.stopped = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def multipart_problem(exc: Exception) -> Problem:
    """Why Django could not read a multipart body, as a refusal a tablet (and a person)
    can read, instead of Django's HTML error page."""
    if isinstance(exc, TooManyFilesSent):
        limit = settings.CRADLE_LIMITS["MAX_ATTACHMENTS"]
        return Problem("too_many_attachments", detail=f"more than {limit}")
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return Problem("too_many_fields", detail=f"more than {limit}")
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Problem("too_large", detail=f"form fields over {limit} bytes")
    if "header size" in str(exc):  # Django bounds one part's headers: its name, file name
        return Problem("part_header_too_large", detail=f"over {MAX_TOTAL_HEADER_SIZE} bytes")
    return Problem("malformed_multipart", detail=str(exc)[:100])
