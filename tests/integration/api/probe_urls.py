"""The project's URLs and three views that read CouchDB without handling its errors: a page,
an API route that is not DRF, and an OpenRosa route, so that only the middleware answers."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from server.core.couch import cradle_db
from server.urls import urlpatterns as project


def _read(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(cradle_db("submissions").info()))


urlpatterns = [
    path("probe/page", _read, name="probe-page"),
    path("api/probe", _read, name="probe-api"),
    path("forms/probe/manifest", _read, name="openrosa-probe"),
    *project,
]
