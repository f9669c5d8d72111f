"""Operational endpoints."""

from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cradle import __version__
from server.accounts.scope import scope_for
from server.core.audit import flush_audit
from server.core.couch import cradle_db, get_couch
from sync import audit
from sync.errors import SyncError


def _couch_status() -> dict:
    try:
        info = get_couch().server_info()
    except SyncError as exc:
        return {"ok": False, "error": exc.error or type(exc).__name__}
    vendor = info.get("vendor") or {}
    return {"ok": True, "version": info.get("version"), "vendor": vendor.get("name")}


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


class HealthView(APIView):
    """Is Cradle up, and can it reach CouchDB and its own database? 503 when not."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "version": serializers.CharField(),
                    "couchdb": serializers.DictField(),
                    "database": serializers.DictField(),
                },
            ),
            503: None,
        }
    )
    def get(self, request: Request) -> Response:
        couch = _couch_status()
        database = _database_status()
        healthy = couch["ok"] and database["ok"]
        body = {
            "status": "ok" if healthy else "unavailable",
            "version": __version__,
            "couchdb": couch,
            "database": database,
        }
        return Response(body, status=200 if healthy else 503)


class AuditView(APIView):
    """The audit trail, oldest first from `since` (admins only; nothing can change it)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="ISO time, inclusive"),
            OpenApiParameter("limit", int),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        if not scope_for(request.user).is_admin:
            raise PermissionDenied("Only admins read the audit trail.")
        query = AuditQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        flush_audit()
        found = audit.entries(
            cradle_db("audit"),
            since=query.validated_data.get("since"),
            limit=query.validated_data["limit"],
        )
        return Response({"results": found})


class AuditQuery(serializers.Serializer):
    since = serializers.RegexField(r"^\d{4}-\d{2}-\d{2}[0-9T:.Z+-]*$", required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
