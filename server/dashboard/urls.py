"""The dashboard's pages. Mounted at "" before the OpenRosa routes; it owns only /,
/accounts/..., /i18n/setlang/ and /dashboard/..."""

from django.urls import path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from server.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home"), name="root"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("dashboard/", views.home, name="home"),
    path("dashboard/collect/", views.collect, name="collect"),
    path("dashboard/coverage/", views.coverage, name="coverage"),
    path("dashboard/townships/<str:code>/", views.township, name="township"),
    path("dashboard/quality/", views.quality, name="quality"),
    path("dashboard/quarantine/<str:doc_id>/", views.quarantine_detail, name="quarantine"),
    path(
        "dashboard/quarantine/<str:doc_id>/reprocess",
        views.quarantine_reprocess,
        name="quarantine-reprocess",
    ),
    path("dashboard/sync/", views.sync, name="sync"),
    path("dashboard/sync/start", views.sync_start, name="sync-start"),
]
