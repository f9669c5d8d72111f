from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from server.core.views import AuditView, HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", HealthView.as_view(), name="health"),
    path("api/audit/", AuditView.as_view(), name="audit"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("server.submissions.urls")),
    path("api/coverage/", include("server.coverage.urls")),
    path("api/", include("server.syncs.urls")),
    path("api/", include("server.due.urls")),
    path("", include("server.due.page_urls")),
    path("", include("server.dashboard.urls")),
    path("", include("server.openrosa.urls")),
]
