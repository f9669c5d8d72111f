"""REST API for submissions and the quarantine, scoped by role and area."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.scope import Scope, scope_for
from server.submissions.selectors import (
    SubmissionFilters,
    quarantine_get,
    quarantine_list,
    submission_get,
    submission_list,
)
from server.submissions.services import quarantine_reprocess


class FilterSerializer(serializers.Serializer):
    form = serializers.ChoiceField(
        choices=["newborn_visit", "nutrition_pack", "immunization"], required=False
    )
    township = serializers.RegexField(r"^\d{9}$", required=False)
    county = serializers.RegexField(r"^\d{6}$", required=False)
    child_id = serializers.CharField(max_length=40, required=False)
    collected_from = serializers.DateField(required=False)
    collected_to = serializers.DateField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)

    def filters(self) -> SubmissionFilters:
        data = self.validated_data
        return SubmissionFilters(
            form_id=data.get("form"),
            township_code=data.get("township"),
            county_code=data.get("county"),
            child_id=data.get("child_id"),
            collected_from=data["collected_from"].isoformat()
            if data.get("collected_from")
            else None,
            collected_to=data["collected_to"].isoformat() if data.get("collected_to") else None,
        )


FILTER_PARAMS = [
    OpenApiParameter("form", str),
    OpenApiParameter("township", str),
    OpenApiParameter("county", str),
    OpenApiParameter("child_id", str),
    OpenApiParameter("collected_from", str),
    OpenApiParameter("collected_to", str),
    OpenApiParameter("limit", int),
    OpenApiParameter("offset", int),
]


def _scope(request: Request, needs: str) -> Scope:
    scope = scope_for(request.user)
    if not getattr(scope, needs):
        raise PermissionDenied("Your role does not allow this.")
    return scope


def _paged(request: Request, results: list, limit: int, offset: int) -> Response:
    next_url = None
    if len(results) == limit:
        params = request.query_params.copy()
        params["offset"] = str(offset + limit)
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return Response({"limit": limit, "offset": offset, "next": next_url, "results": results})


def _listed(request: Request, needs: str, selector: Callable[..., list]) -> Response:
    """A filtered, paged list through `selector`, for a role that `needs` the permission."""
    scope = _scope(request, needs)
    query = FilterSerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    limit, offset = query.validated_data["limit"], query.validated_data["offset"]
    results = selector(scope=scope, filters=query.filters(), limit=limit, offset=offset)
    return _paged(request, results, limit, offset)


class SubmissionListView(APIView):
    @extend_schema(parameters=FILTER_PARAMS, responses={200: dict})
    def get(self, request: Request) -> Response:
        return _listed(request, "can_read_submissions", submission_list)


class SubmissionDetailView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, doc_id: str) -> Response:
        scope = _scope(request, "can_read_submissions")
        try:
            doc = submission_get(scope=scope, doc_id=doc_id)
        except PermissionError as exc:
            raise PermissionDenied("This submission is outside your area.") from exc
        if doc is None:
            raise NotFound("No such submission.")
        return Response(doc)


class QuarantineListView(APIView):
    @extend_schema(parameters=FILTER_PARAMS, responses={200: dict})
    def get(self, request: Request) -> Response:
        return _listed(request, "can_manage_quarantine", quarantine_list)


class QuarantineDetailView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, doc_id: str) -> Response:
        scope = _scope(request, "can_manage_quarantine")
        try:
            doc = quarantine_get(scope=scope, doc_id=doc_id)
        except PermissionError as exc:
            raise PermissionDenied("This submission is outside your area.") from exc
        if doc is None:
            raise NotFound("No such quarantined submission.")
        return Response(doc)


class QuarantineReprocessView(APIView):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, doc_id: str) -> Response:
        scope = _scope(request, "can_manage_quarantine")
        try:
            outcome = quarantine_reprocess(
                scope=scope, doc_id=doc_id, request=request, source="api"
            )
        except PermissionError as exc:
            raise PermissionDenied("This submission is outside your area.") from exc
        except KeyError as exc:
            raise NotFound("No such quarantined submission.") from exc
        return Response(
            {
                "result": outcome.result,
                "accepted": outcome.accepted,
                "submission_id": outcome.doc_id,
                "reasons": [p.as_dict() for p in outcome.problems],
            }
        )
