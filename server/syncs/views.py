"""REST API for ODK Central sync runs: start one, follow it, list past runs and sources.

Supervisors and admins only (`Scope.can_sync`), and only for the sources of their area:
a supervisor sees and starts a source whose counties are all theirs; other runs and
sources answer as if they did not exist.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.scope import Scope, scope_for
from server.syncs.services import source_list, sync_run_get, sync_run_list, sync_start

_RUN_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def _scope(request: Request) -> Scope:
    scope = scope_for(request.user)
    if not scope.can_sync:
        raise PermissionDenied("Your role does not allow starting or following syncs.")
    return scope


class CountsSerializer(serializers.Serializer):
    fetched = serializers.IntegerField()
    new = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    quarantined = serializers.IntegerField()
    deleted = serializers.IntegerField()
    review_changes = serializers.IntegerField()


class RunSerializer(serializers.Serializer):
    id = serializers.CharField()
    source = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=["running", "succeeded", "failed"])
    started_at = serializers.CharField()
    finished_at = serializers.CharField(allow_null=True)
    heartbeat_at = serializers.CharField(allow_null=True)
    counts = CountsSerializer()
    total = serializers.IntegerField(allow_null=True, help_text="rows to write, when known")
    written = serializers.IntegerField()
    form = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    requested_by = serializers.CharField(allow_null=True)


class RunListSerializer(serializers.Serializer):
    results = RunSerializer(many=True)


class SourceSerializer(serializers.Serializer):
    name = serializers.CharField()
    server = serializers.CharField()
    project_id = serializers.IntegerField()
    forms = serializers.DictField(child=serializers.CharField())
    counties = serializers.ListField(child=serializers.CharField())


class SourceListSerializer(serializers.Serializer):
    results = SourceSerializer(many=True)


class StartSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=64)


class RunQuerySerializer(serializers.Serializer):
    source = serializers.CharField(max_length=64, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


def _run(record: dict) -> dict:
    return RunSerializer(record).data


class SyncListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("source", str), OpenApiParameter("limit", int)],
        responses={200: RunListSerializer},
    )
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        query = RunQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        results = sync_run_list(
            scope=scope,
            source=query.validated_data.get("source"),
            limit=query.validated_data["limit"],
        )
        return Response({"results": [_run(r) for r in results]})

    @extend_schema(request=StartSerializer, responses={202: RunSerializer})
    def post(self, request: Request) -> Response:
        scope = _scope(request)
        body = StartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = sync_start(scope=scope, source_name=body.validated_data["source"])
        return Response(_run(record), status=status.HTTP_202_ACCEPTED)


class SyncDetailView(APIView):
    @extend_schema(responses={200: RunSerializer})
    def get(self, request: Request, run_id: str) -> Response:
        scope = _scope(request)
        record = sync_run_get(scope=scope, run_id=run_id) if _RUN_ID.fullmatch(run_id) else None
        if record is None:
            raise NotFound("No such sync run.")
        return Response(_run(record))


class SourceListView(APIView):
    @extend_schema(responses={200: SourceListSerializer})
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        return Response({"results": [s.describe() for s in source_list(scope=scope)]})
