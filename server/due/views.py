"""Due lists: the API (JSON, CSV, XLSX) and the dashboard page. Thin: validate the query,
call `services.due_list` within the caller's scope, render."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.errors import AnalyticsError
from analytics.periods import FIRST_DAY, LAST_DAY
from server.accounts.scope import scope_for
from server.core.errors import ApplicationError
from server.core.ingest import local_today
from server.core.renderers import CSVRenderer, XLSXRenderer
from server.due import exports, services
from server.due.register import RETRY_AFTER


class DueQuery(serializers.Serializer):
    township = serializers.RegexField(r"^\d{9}$", help_text="9-digit township code")
    on = serializers.DateField(required=False, help_text="YYYY-MM-DD, default today")

    def validate_on(self, value: date) -> date:
        if not FIRST_DAY <= value <= LAST_DAY:
            raise serializers.ValidationError(
                f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"
            )
        return value


class RegisterBusy(APIException):
    """503 while the children register is first built (DRF adds `Retry-After: wait`)."""

    status_code = 503
    default_code = "register_not_ready"
    default_detail = "The children register is being built; try again in a minute."
    wait = RETRY_AFTER


def _due(user: Any, params: dict[str, str]) -> services.DueList:
    query = DueQuery(data=params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    try:
        return services.due_list(
            township=data["township"], on=data.get("on") or local_today(), scope=scope_for(user)
        )
    except services.DueAccessDenied as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.UnknownTownship as exc:
        raise NotFound(str(exc)) from exc
    except services.RegisterNotReady as exc:
        raise RegisterBusy() from exc
    except AnalyticsError as exc:
        raise ApplicationError(str(exc), code="invalid_query") from exc


class DueView(APIView):
    """`GET /api/due/?township=450123101[&on=2026-11-28][&format=json|csv|xlsx]`: children
    with a due or overdue dose or nutrition pack. Names for supervisors and health workers
    of that township; counts only for analysts; 403 outside the caller's area."""

    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        parameters=[
            OpenApiParameter("township", str, required=True),
            OpenApiParameter("on", date),
            OpenApiParameter("format", str, enum=["json", "csv", "xlsx"]),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        due = _due(request.user, {k: v for k, v in request.query_params.items() if k != "format"})
        fmt = request.accepted_renderer.format
        stem = f"due-{due.township}-{due.on.isoformat()}"
        if fmt in ("csv", "xlsx"):
            body = exports.to_csv(due) if fmt == "csv" else exports.to_xlsx(due)
            response = Response(body)
            response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
            return response
        return Response(exports.to_json(due))


def due_page(request: HttpRequest) -> HttpResponse:
    """`/dashboard/due/?township=...&on=...`: the list on screen, with download links."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    scope = scope_for(request.user)
    request.scope = scope  # the dashboard's navigation reads it
    towns = sorted(scope.townships) if scope.townships is not None else []
    params = {k: v for k, v in request.GET.items() if k in ("township", "on")}
    if "township" not in params and len(towns) == 1:
        params["township"] = towns[0]
    context: dict[str, Any] = {"nav": "due", "townships": towns, "params": params}
    if "township" in params:
        try:
            due = _due(request.user, params)
        except (PermissionDenied, NotFound, RegisterBusy) as exc:
            context["error"] = str(exc.detail)
            page = render(request, "due/due.html", context, status=exc.status_code)
            if isinstance(exc, RegisterBusy):
                page["Retry-After"] = str(RETRY_AFTER)
            return page
        except serializers.ValidationError as exc:
            context["error"] = str(exc.detail)
            return render(request, "due/due.html", context, status=400)
        context["due"] = exports.to_json(due)
        context["due_rows"] = exports.html_rows(context["due"].get("children") or [])
    return render(request, "due/due.html", context)
