"""The dashboard page, mounted at the root by the project:
`path("", include("server.due.page_urls"))`."""

from django.urls import path

from server.due import views

urlpatterns = [path("dashboard/due/", views.due_page, name="due-page")]
