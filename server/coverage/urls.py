from django.urls import path

from server.coverage import views

urlpatterns = [
    path("", views.CoverageView.as_view(), name="coverage"),
    path("map.png", views.CoverageMapView.as_view(), name="coverage-map"),
    path("geojson", views.CoverageGeoJSONView.as_view(), name="coverage-geojson"),
]
