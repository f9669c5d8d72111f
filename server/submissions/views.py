"""REST API for submissions and the quarantine, scoped by role and area.

Lists page by key: `next` and `previous` are URLs carrying an opaque `cursor`, and `count`
is the size of the whole filtered set in the caller's area. An id outside that area is
answered exactly like a missing one (404), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.scope import Scope, scope_for
from server.core.errors import ApplicationError
from server.submissions.selectors import (
    ListPage,
    SubmissionFilters,
    quarantine_get,
    quarantine_list,
    submission_get,
    submission_list,
)
from server.submissions.services import quarantine_reprocess
from sync.listing import InvalidCursor


class FilterSerializer(serializers.Serializer):
    form = serializers.ChoiceField(
        choices=["newborn_visit", "nutrition_pack", "immunization"], required=False
    )
    township = serializers.RegexField(r"^\d{9}$", required=False, help_text="9-digit code")
    county = serializers.RegexField(r"^\d{6}$", required=False, help_text="6-digit code")
    child_id = serializers.CharField(
        max_length=40, required=False, help_text="not for roles that see de-identified data"
    )
    collected_from = serializers.DateField(
        required=False,
        help_text="YYYY-MM-DD, inclusive (quarantine: the day it was received, local time)",
    )
    collected_to = serializers.DateField(
        required=False, help_text="YYYY-MM-DD, inclusive (quarantine: as `collected_from`)"
    )
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,  # refused by the cursor check itself, as any made-up cursor
        help_text="Where a page starts: taken from the `next` or `previous` URL, never made up",
    )

    def filters(self) -> SubmissionFilters:
        data = self.validated_data
        return SubmissionFilters(
            form_id=data.get("form"),
            township_code=data.get("township"),
            county_code=data.get("county"),
            child_id=data.get("child_id"),
            collected_from=data.get("collected_from"),
            collected_to=data.get("collected_to"),
        )


ERROR = inline_serializer(
    "Error",
    {
        "error": serializers.CharField(),
        "message": serializers.CharField(),
        "detail": serializers.JSONField(allow_null=True),
    },
)


def _page_schema(name: str) -> object:
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(help_text="the whole filtered set in your area"),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializers.ListField(child=serializers.DictField()),
        },
    )


def _list_schema(name: str, operation: str, what: str) -> Callable:
    return extend_schema(
        operation_id=operation,
        description=(
            f"{what}, newest first, in pages of `limit`. Follow `next` / `previous` (they "
            "carry a `cursor`); `offset` is refused (400 `invalid_query`). The header "
            "`X-Cradle-Listing: partial` says the list is still being built after a start "
            "on a large database."
        ),
        parameters=[FilterSerializer],
        responses={200: _page_schema(name), 400: OpenApiResponse(ERROR)},
    )


def _scope(request: Request, needs: str) -> Scope:
    scope = scope_for(request.user)
    if not getattr(scope, needs):
        raise PermissionDenied("Your role does not allow this.")
    return scope


def _url(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params = request.query_params.copy()
    params["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def _listed(request: Request, needs: str, selector: Callable[..., ListPage]) -> Response:
    """A filtered page through `selector`, for a role that `needs` the permission."""
    scope = _scope(request, needs)
    if "offset" in request.query_params:
        raise ApplicationError(
            "Lists no longer page by offset: follow the `next` URL (its `cursor` parameter).",
            code="invalid_query",
        )
    query = FilterSerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    if query.validated_data.get("child_id") and not scope.sees_personal_data:
        # an answer of "some" or "none" would tell whether a known ID number is registered
        raise PermissionDenied(
            "`child_id` is personal data: your role sees children by `child_key` only."
        )
    try:
        page = selector(
            scope=scope,
            filters=query.filters(),
            limit=query.validated_data["limit"],
            cursor=query.validated_data.get("cursor"),
        )
    except InvalidCursor as exc:
        raise ApplicationError(
            f"{exc} Start from the first page or follow `next`.", code="invalid_query"
        ) from exc
    response = Response(
        {
            "count": page.count,
            "next": _url(request, page.next),
            "previous": _url(request, page.previous),
            "results": page.results,
        }
    )
    if not page.caught_up:
        response["X-Cradle-Listing"] = "partial"
    return response


DETAIL_RESPONSES = {200: dict, 404: OpenApiResponse(ERROR)}


class SubmissionListView(APIView):
    @_list_schema("SubmissionPage", "submissions_list", "Submissions in your area")
    def get(self, request: Request) -> Response:
        return _listed(request, "can_read_submissions", submission_list)


class SubmissionDetailView(APIView):
    @extend_schema(responses=DETAIL_RESPONSES)
    def get(self, request: Request, doc_id: str) -> Response:
        scope = _scope(request, "can_read_submissions")
        doc = submission_get(scope=scope, doc_id=doc_id)
        if doc is None:
            raise NotFound("No such submission.")
        return Response(doc)


class QuarantineListView(APIView):
    @_list_schema("QuarantinePage", "quarantine_list", "Quarantined submissions in your area")
    def get(self, request: Request) -> Response:
        return _listed(request, "can_manage_quarantine", quarantine_list)


class QuarantineDetailView(APIView):
    @extend_schema(responses=DETAIL_RESPONSES)
    def get(self, request: Request, doc_id: str) -> Response:
        scope = _scope(request, "can_manage_quarantine")
        doc = quarantine_get(scope=scope, doc_id=doc_id)
        if doc is None:
            raise NotFound("No such quarantined submission.")
        return Response(doc)


class QuarantineReprocessView(APIView):
    @extend_schema(request=None, responses=DETAIL_RESPONSES)
    def post(self, request: Request, doc_id: str) -> Response:
        scope = _scope(request, "can_manage_quarantine")
        try:
            outcome = quarantine_reprocess(
                scope=scope, doc_id=doc_id, request=request, source="api"
            )
        except KeyError as exc:  # missing, or outside the caller's area: alike
            raise NotFound("No such quarantined submission.") from exc
        except PermissionError as exc:  # in the area, but not this user's to do
            raise PermissionDenied("You may not re-process this submission.") from exc
        return Response(
            {
                "result": outcome.result,
                "accepted": outcome.accepted,
                "submission_id": outcome.doc_id,
                "reasons": [p.as_dict() for p in outcome.problems],
            }
        )
