"""API routes, mounted under `api/` by the project: `path("api/", include("server.due.urls"))`."""

from django.urls import path

from server.due import views

urlpatterns = [path("due/", views.DueView.as_view(), name="due")]
