"""Central's errors ("Problems"): code `404.1` means HTTP 404, variant 1.

Messages are Central's own (central-backend `lib/util/problem.js`), so a client that
matches on them sees what it would see against the real server.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """An error the double answers with `{"message", "code", "details"?}` and status int(code)."""

    def __init__(self, code: float, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return int(self.code)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def unparseable(fmt: str, raw_length: int) -> Problem:
    return Problem(
        400.1,
        f"Could not parse the given data ({raw_length} chars) as {fmt}.",
        {"format": fmt, "rawLength": raw_length},
    )


def missing_parameter(field: str) -> Problem:
    return Problem(400.2, f"Required parameter {field} missing.", {"field": field})


def missing_parameters(expected: list[str], got: dict[str, Any]) -> Problem:
    pairs = ", ".join(f"{key}: {value}" for key, value in got.items())
    return Problem(
        400.3,
        f"Required parameters missing. Expected ({', '.join(expected)}), got ({pairs}).",
        {"expected": expected, "got": got},
    )


def invalid_header(field: str, value: str | None) -> Problem:
    shown = "[nothing]" if value is None else value
    return Problem(
        400.6,
        f"An expected header field ({field}) did not match the expected format (got: {shown}).",
        {"field": field, "value": value},
    )


def missing_multipart_field(field: str) -> Problem:
    return Problem(400.7, f"Required multipart POST field {field} missing.", {"field": field})


def unexpected_value(field: str, value: Any, reason: str) -> Problem:
    return Problem(
        400.8,
        f"Unexpected {field} value {value}; {reason}",
        {"field": field, "value": value, "reason": reason},
    )


def unparseable_filter(reason: str) -> Problem:
    return Problem(
        400.18,
        f"The OData filter expression you provided could not be parsed: {reason}",
        {"reason": reason},
    )


def expected_deprecation() -> Problem:
    return Problem(
        400.19,
        "This PUT endpoint expects a deprecatedID metadata tag pointing at the current version "
        "instanceID. I cannot find that tag in your request.",
    )


def property_not_found(prop: str) -> Problem:
    return Problem(400.23, f"Could not find a property named '{prop}'", {"property": prop})


def invalid_skiptoken() -> Problem:
    return Problem(400.35, "Invalid $skiptoken")


def authentication_failed() -> Problem:
    return Problem(401.2, "Could not authenticate with the provided credentials.")


def https_only() -> Problem:
    return Problem(401.3, "This authentication method is only available over HTTPS")


def insufficient_rights() -> Problem:
    return Problem(
        403.1, "The authentication you provided does not have rights to perform that action."
    )


def not_found() -> Problem:
    return Problem(404.1, "Could not find the resource you were looking for.")


def missing_api_version() -> Problem:
    return Problem(404.2, "Expected an API version (eg /v1) at the start of the request URL.")


def deprecated_id_not_found(deprecated_id: str) -> Problem:
    return Problem(
        404.5,
        "You tried to update an existing submission, but we can't find that submission to "
        f"update ({deprecated_id})",
        {"deprecatedId": deprecated_id},
    )


def form_version_not_found(version: str) -> Problem:
    return Problem(
        404.6,
        f"The form version specified in this submission '{version}' does not exist.",
        {"formVersion": version},
    )


def unacceptable_format(allowed: list[str]) -> Problem:
    return Problem(
        406.1,
        f"Requested format not acceptable; this resource allows: {','.join(allowed)}.",
        {"allowed": allowed},
    )


def xml_conflict() -> Problem:
    return Problem(
        409.1,
        "A submission already exists with this ID, but with different XML. Resubmissions to "
        "attach additional multimedia must resubmit an identical xml_submission_file.",
    )


def uniqueness_violation(fields: list[str] | str, values: list[str] | str, table: str) -> Problem:
    shown_fields = fields if isinstance(fields, str) else ",".join(fields)
    shown_values = values if isinstance(values, str) else ",".join(values)
    return Problem(
        409.3,
        f"A resource already exists with {shown_fields} value(s) of {shown_values}.",
        {"fields": fields, "values": values, "table": table},
    )


def version_uniqueness_violation(xml_form_id: str, version: str) -> Problem:
    return Problem(
        409.6,
        f"You tried to publish the form '{xml_form_id}' with version '{version}', but a "
        "published form has already existed in this project with those identifiers.",
        {"xmlFormId": xml_form_id, "version": version},
    )


def deprecating_old_submission(deprecated_id: str) -> Problem:
    return Problem(
        409.9,
        f"You tried to update a submission, but the copy you were editing ({deprecated_id}) is "
        "now out of date. Please get the new version that has been submitted, and make your "
        "edits again.",
        {"deprecatedId": deprecated_id},
    )


def duplicate_submission() -> Problem:
    return Problem(409.18, "This submission has been deleted. You may not resubmit it.")


def not_implemented(feature: str) -> Problem:
    return Problem(
        501.1,
        f"The requested feature {feature} is not supported by this server.",
        {"feature": feature},
    )


def unsupported_filter_expression(at: int, kind: str, text: str) -> Problem:
    return Problem(
        501.4,
        "The given OData filter expression uses features not supported by this server: "
        f'{kind} at {at} ("{text}")',
        {"at": at, "type": kind, "text": text},
    )


def unsupported_filter_field(text: str, at: int | None = None) -> Problem:
    where = f" at {at}" if at is not None else ""
    return Problem(
        501.5,
        "The given OData filter expression references fields not supported by this server: "
        f"{text}{where}",
        {"at": at, "text": text},
    )


def unsupported_expand(text: str) -> Problem:
    return Problem(
        501.6,
        f'The given OData expand expression is not supported by this server: "{text}". '
        'Currently, only "$expand=*" is supported.',
        {"text": text},
    )


def unsupported_select_expand() -> Problem:
    return Problem(501.11, "This server doesn't support $select query parameter with $expand.")
