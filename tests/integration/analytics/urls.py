"""The project's URLs with the coverage API mounted (until server/urls.py includes it)."""

from django.urls import include, path

from server.urls import urlpatterns as project

urlpatterns = [path("api/coverage/", include("server.coverage.urls")), *project]
