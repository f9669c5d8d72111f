"""Why a submission was refused: machine-readable codes with messages a health worker can read.

Every reason is a `Problem(code, field, detail)`; the code decides the HTTP status and the
bilingual message, so the OpenRosa endpoint, the Central sync and the quarantine list all
say the same thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# code: (HTTP status, Chinese message, English message). `{field}` and `{detail}` are filled in.
CATALOG: dict[str, tuple[int, str, str]] = {
    "empty_body": (400, "没有收到表单数据。", "No form data was received."),
    "too_large": (413, "提交的数据太大。", "The submission is too large ({detail})."),
    "attachment_too_large": (
        413,
        "附件 {field} 太大。",
        "Attachment {field} is too large ({detail}).",
    ),
    "too_many_attachments": (413, "附件太多（{detail}）。", "Too many attachments ({detail})."),
    "multiple_xml": (
        400,
        "一次只能提交一个表单文件 xml_submission_file（收到 {detail} 个）。",
        "Send one xml_submission_file part per post ({detail} were sent).",
    ),
    "too_many_fields": (
        400,
        "提交的字段太多（{detail}）。",
        "Too many multipart fields ({detail}); Collect sends only files.",
    ),
    "part_header_too_large": (
        400,
        "提交中某部分的名称或文件名太长。",
        "A part's name or file name is too long ({detail}).",
    ),
    "malformed_multipart": (
        400,
        "提交的 multipart 数据格式错误。",
        "The multipart body is malformed ({detail}).",
    ),
    "missing_xml": (
        400,
        "缺少表单文件 xml_submission_file。",
        "The xml_submission_file part is missing.",
    ),
    "wrong_content_type": (
        400,
        "提交格式错误，应为 multipart/form-data。",
        "Wrong content type: expected multipart/form-data ({detail}).",
    ),
    "invalid_encoding": (400, "表单不是有效的 UTF-8 文本。", "The form is not valid UTF-8 text."),
    "control_characters": (400, "表单含有非法控制字符。", "The form contains control characters."),
    "dtd_forbidden": (
        400,
        "表单含有不允许的 DTD。",
        "The form contains a DTD, which is not allowed.",
    ),
    "entity_forbidden": (
        400,
        "表单含有不允许的实体声明。",
        "The form declares entities, which is not allowed.",
    ),
    "external_reference": (
        400,
        "表单含有外部引用。",
        "The form refers to external resources, which is not allowed.",
    ),
    "malformed_xml": (
        400,
        "表单数据格式错误。",
        "The form data is not well-formed XML ({detail}).",
    ),
    "missing_form_id": (400, "表单缺少 id。", "The form has no id attribute."),
    "unknown_form": (
        404,
        "服务器上没有这个表单：{detail}。",
        "This form is not on the server: {detail}.",
    ),
    "unknown_version": (
        409,
        "表单版本已过期，请先更新表单：{detail}。",
        "This form version is not on the server; update the form first ({detail}).",
    ),
    "missing_instance_id": (400, "表单缺少 instanceID。", "The form has no meta/instanceID."),
    "malformed_instance_id": (
        400,
        "instanceID 格式错误。",
        "The instanceID is malformed ({detail}).",
    ),
    "duplicate_field": (400, "字段 {field} 出现多次。", "Field {field} appears more than once."),
    "required": (422, "缺少必填项：{field}。", "Required field {field} is missing."),
    "not_a_number": (422, "{field} 必须是数字。", "{field} must be a number ({detail})."),
    "not_an_integer": (422, "{field} 必须是整数。", "{field} must be a whole number ({detail})."),
    "out_of_range": (422, "{field} 超出合理范围。", "{field} is out of range ({detail})."),
    "invalid_date": (422, "{field} 不是有效日期。", "{field} is not a valid date ({detail})."),
    "future_date": (
        422,
        "{field} 不能是将来的日期。",
        "{field} cannot be in the future ({detail}).",
    ),
    "too_early": (422, "{field} 太早。", "{field} is too early ({detail})."),
    "before_birth": (
        422,
        "{field} 不能早于出生日期。",
        "{field} cannot be before the date of birth.",
    ),
    "not_after": (422, "{field} 必须晚于 {detail}。", "{field} must be after {detail}."),
    "invalid_choice": (422, "{field} 的选项无效。", "{field} has an invalid choice ({detail})."),
    "invalid_pattern": (422, "{field} 格式错误。", "{field} has the wrong format ({detail})."),
    "too_long": (422, "{field} 太长。", "{field} is too long ({detail})."),
    "invalid_geopoint": (422, "{field} 位置格式错误。", "{field} is not a valid location."),
    "unknown_county": (422, "未知的县：{detail}。", "Unknown county {detail}."),
    "unknown_township": (422, "未知的乡镇：{detail}。", "Unknown township {detail}."),
    "township_not_in_county": (
        422,
        "乡镇 {detail} 不属于所选的县。",
        "Township {detail} is not in the chosen county.",
    ),
    "age_out_of_window": (
        422,
        "儿童年龄不在 6–24 月龄范围内。",
        "The child is not 6–24 months old on {field} ({detail}).",
    ),
    "exclusive_choice": (
        422,
        "{field}：“无”不能与其他选项同时选择。",
        "{field}: 'none' cannot be chosen with other answers.",
    ),
    "outside_scope": (
        403,
        "您无权提交该乡镇的数据：{detail}。",
        "You may not submit data for township {detail}.",
    ),
    "edit_changes_form": (
        409,
        "修改不能更换表单：{detail}。",
        "An edit cannot change the form of a submission ({detail}).",
    ),
    "submitter_unknown": (
        403,
        "提交人 {detail} 已不存在，无法按其权限重新处理。",
        "The submitter {detail} no longer exists, so their scope cannot be checked.",
    ),
    "submitter_no_scope": (
        403,
        "提交人 {detail} 现在无权提交任何地区的表单。",
        "The submitter {detail} may no longer submit forms for any area.",
    ),
    "conflict": (
        409,
        "已存在相同编号但内容不同的表单。",
        "A different submission with this instanceID already exists.",
    ),
    "stale_edit": (
        409,
        "该修改基于旧版本，请重新下载后修改。",
        "This edit is based on an older version of the submission.",
    ),
}


@dataclass(frozen=True)
class Problem:
    code: str
    field: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CATALOG:
            raise ValueError(f"unknown problem code {self.code!r}")

    @property
    def status(self) -> int:
        return CATALOG[self.code][0]

    def message(self, language: str = "en") -> str:
        _, zh, en = CATALOG[self.code]
        template = zh if language.startswith("zh") else en
        return template.format(field=self.field or "", detail=self.detail or "")

    def bilingual(self) -> str:
        return f"{self.message('zh')} {self.message('en')}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message("en"), "message_zh": self.message("zh")}


def status_for(problems: list[Problem]) -> int:
    """The HTTP status of a refusal: the first problem decides (parsing before content)."""
    return problems[0].status if problems else 400


class SubmissionRejected(Exception):
    """A submission that cannot be accepted; carries every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message() for p in problems))
        self.problems = problems
