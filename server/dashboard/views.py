"""The dashboard pages: each validates its query, asks the scope, and calls a selector or
a service; the rules live there, not here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from analytics.errors import AnalyticsError
from server.accounts.scope import Scope, scope_for
from server.core.errors import ApplicationError
from server.core.ingest import local_today
from server.core.middleware import unavailable_response
from server.dashboard import places, presenters, selectors, services
from server.dashboard.forms import CoverageQuery, QualityQuery, TownshipQuery
from server.dashboard.periods import period_groups, previous_quarters
from server.submissions.selectors import (
    ListPage,
    SubmissionFilters,
    quarantine_get,
    quarantine_list,
)
from server.syncs import services as syncs
from sync.errors import SyncError
from sync.listing import InvalidCursor

log = logging.getLogger(__name__)

LOGIN_URL = reverse_lazy("dashboard:login")
QUARANTINE_PAGE = 50


class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("dashboard:home")


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("dashboard:login")


def page(needs: str | None = None) -> Callable:
    """Signed in, with a role, and (if `needs`) the scope capability of that name.

    The view receives the request and the user's `Scope` first.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), str(LOGIN_URL))
            scope = scope_for(request.user)
            request.scope = scope  # for the templates' navigation
            if scope.role is None:
                return render(request, "dashboard/no_role.html", status=403)
            if needs and not getattr(scope, needs):
                if scope.can_submit and not scope.can_read_submissions:  # a health worker
                    return redirect("dashboard:collect")
                return render(request, "dashboard/forbidden.html", status=403)
            try:
                return view(request, scope, *args, **kwargs)
            except SyncError as error:  # CouchDB unreachable or failing
                return _unavailable(request, error)

        return wrapper

    return decorator


def _unavailable(request: HttpRequest, error: Exception) -> HttpResponse:
    """503 with `Retry-After`: the figures cannot be read now (CouchDB out of reach, or the
    analytics cache unusable). The reason goes to the log, not to the page."""
    log.error("dashboard %s: %s", request.path, error, exc_info=error)
    return unavailable_response(request)


@page()
def home(request: HttpRequest, scope: Scope) -> HttpResponse:
    if scope.can_see_coverage:
        return redirect("dashboard:coverage")
    return redirect("dashboard:collect")


@page()
def collect(request: HttpRequest, scope: Scope) -> HttpResponse:
    """Health workers send data with ODK Collect; this page tells them how."""
    server_url = request.build_absolute_uri("/")
    return render(request, "dashboard/collect.html", {"server_url": server_url})


@page("can_see_coverage")
def coverage(request: HttpRequest, scope: Scope) -> HttpResponse:
    query = CoverageQuery(request.GET, scope=scope, today=local_today())
    context: dict[str, Any] = {
        "nav": "coverage",
        "query": query,
        "period_groups": period_groups(local_today()),
        "counties": query.counties,
        "programmes": selectors.programmes(),
        "indicators": selectors.indicators(),
    }
    if not query.is_valid():
        return render(request, "dashboard/coverage.html", context, status=400)
    q = query.cleaned_data
    try:
        view = selectors.coverage_view(
            scope=scope, period=q["period"], indicator=q["indicator"], county=q["county"]
        )
    except PermissionError:
        return render(request, "dashboard/forbidden.html", status=403)
    except AnalyticsError as error:
        return _unavailable(request, error)
    params = {"period": q["period"], "indicator": q["indicator"], "county": q["county"]}
    context.update(
        q=q,
        period_listed=_listed(q["period"], context["period_groups"]),
        view=view,
        downloads=presenters.coverage_downloads(params),
        map_url=presenters.coverage_map_url(params),
    )
    return render(request, "dashboard/coverage.html", context)


@page("can_see_coverage")
def township(request: HttpRequest, scope: Scope, code: str) -> HttpResponse:
    place = places.township(code)
    if place is None:
        raise Http404("no such township")
    if not scope.allows_township(code):
        return render(request, "dashboard/forbidden.html", status=403)
    query = TownshipQuery(request.GET, today=local_today())
    if not query.is_valid():
        context = {"nav": "coverage", "place": place, "query": query}
        return render(request, "dashboard/township.html", context, status=400)
    until = query.cleaned_data["until"]
    try:
        programmes = selectors.township_trends(scope=scope, township=code, until=until)
    except PermissionError:
        return render(request, "dashboard/forbidden.html", status=403)
    except AnalyticsError as error:
        return _unavailable(request, error)
    context = {
        "nav": "coverage",
        "place": place,
        "county": places.county(place.county_code),
        "query": query,
        "until": until,
        "quarters": previous_quarters(until, 8),
        "quarter_choices": next(g for g in period_groups(local_today()) if g.kind == "quarter"),
        "programmes": [presenters.with_charts(p) for p in programmes],
    }
    return render(request, "dashboard/township.html", context)


@page("can_read_submissions")
def quality(request: HttpRequest, scope: Scope) -> HttpResponse:
    query = QualityQuery(request.GET, scope=scope, today=local_today())
    context: dict[str, Any] = {
        "nav": "quality",
        "query": query,
        "period_groups": period_groups(local_today()),
        "counties": query.counties,
    }
    if not query.is_valid():
        return render(request, "dashboard/quality.html", context, status=400)
    q = query.cleaned_data
    try:
        view = selectors.quality_view(scope=scope, period=q["period"], county=q["county"])
    except PermissionError:
        return render(request, "dashboard/forbidden.html", status=403)
    except AnalyticsError as error:
        return _unavailable(request, error)
    context.update(q=q, period_listed=_listed(q["period"], context["period_groups"]), view=view)
    if scope.can_manage_quarantine:
        held = _quarantine_page(scope, q["county"], request.GET.get("cursor") or None)
        context.update(
            quarantine=[presenters.quarantine_item(d) for d in held.results],
            quarantine_next=held.next,
            quarantine_previous=held.previous,
        )
    return render(request, "dashboard/quality.html", context)


def _listed(period: str, groups: list) -> bool:
    return any(period in g.labels for g in groups)


def _quarantine_page(scope: Scope, county: str | None, cursor: str | None) -> ListPage:
    """A page of the quarantine list; an edited or stale link shows the first page."""
    filters = SubmissionFilters(county_code=county)
    try:
        return quarantine_list(scope=scope, filters=filters, limit=QUARANTINE_PAGE, cursor=cursor)
    except InvalidCursor:
        return quarantine_list(scope=scope, filters=filters, limit=QUARANTINE_PAGE)


@page("can_manage_quarantine")
def quarantine_detail(request: HttpRequest, scope: Scope, doc_id: str) -> HttpResponse:
    try:
        doc = quarantine_get(scope=scope, doc_id=doc_id)
    except PermissionError:
        return render(request, "dashboard/forbidden.html", status=403)
    if doc is None:
        raise Http404("no such quarantined submission")
    return render(
        request,
        "dashboard/quarantine_detail.html",
        {
            "nav": "quality",
            "item": presenters.quarantine_item(doc),
            "raw_xml": doc.get("raw_xml", doc.get("raw_json", "")),
        },
    )


@require_POST
@page("can_manage_quarantine")
def quarantine_reprocess(request: HttpRequest, scope: Scope, doc_id: str) -> HttpResponse:
    try:
        outcome = services.quarantine_reprocess(scope=scope, doc_id=doc_id, request=request)
    except PermissionError:
        return render(request, "dashboard/forbidden.html", status=403)
    except KeyError as exc:
        raise Http404("no such quarantined submission") from exc
    if outcome.accepted:
        messages.success(request, _("已重新处理：提交已接受（%(id)s）。") % {"id": outcome.doc_id})
    else:
        messages.warning(request, _("已重新处理：仍未通过检查。"))
    return redirect("dashboard:quarantine", doc_id=doc_id)


@require_http_methods(["GET"])
@page("can_sync")
def sync(request: HttpRequest, scope: Scope) -> HttpResponse:
    return render(request, "dashboard/sync.html", _sync_context(scope, request.GET.get("run")))


def _sync_context(scope: Scope, run_id: str | None) -> dict[str, Any]:
    """Sources, recent runs, the run followed (asked for, else one running), replications."""
    context: dict[str, Any] = {
        "nav": "sync",
        "sources": [],
        "runs": [],
        "run": None,
        "count_keys": presenters.COUNT_KEYS,
    }
    try:
        context["sources"] = syncs.source_list(scope=scope)
        runs = syncs.sync_run_list(scope=scope, limit=20)
    except ApplicationError as error:  # a broken sources file: said on the page
        context["config_error"] = error.message
        runs = []
    context["runs"] = [presenters.sync_run(r) for r in runs]
    if run_id:
        record = syncs.sync_run_get(scope=scope, run_id=run_id[:80])
        context["run"] = presenters.sync_run(record) if record else None
    else:
        context["run"] = next((r for r in context["runs"] if r.running), None)
    try:
        context["replications"] = services.replication_status(scope)
    except SyncError as error:
        context["replication_error"] = str(error)
    return context


@require_POST
@page("can_sync")
def sync_start(request: HttpRequest, scope: Scope) -> HttpResponse:
    try:
        run_id = services.sync_start(scope=scope, source=request.POST.get("source", "")[:64])
    except services.SyncRefused as refused:
        context = _sync_context(scope, None)
        context["error"] = str(refused)
        return render(request, "dashboard/sync.html", context, status=refused.status)
    return redirect(reverse("dashboard:sync") + "?" + urlencode({"run": run_id}))
