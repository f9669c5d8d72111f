from django.urls import path

from server.syncs import views

urlpatterns = [
    path("syncs/", views.SyncListView.as_view(), name="sync-list"),
    path("syncs/<str:run_id>", views.SyncDetailView.as_view(), name="sync-detail"),
    path("sources/", views.SourceListView.as_view(), name="source-list"),
]
