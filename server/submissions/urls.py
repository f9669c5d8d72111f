from django.urls import path

from server.submissions import views

urlpatterns = [
    path("submissions/", views.SubmissionListView.as_view(), name="submission-list"),
    path(
        "submissions/<path:doc_id>", views.SubmissionDetailView.as_view(), name="submission-detail"
    ),
    path("quarantine/", views.QuarantineListView.as_view(), name="quarantine-list"),
    path(
        "quarantine/<str:doc_id>/reprocess",
        views.QuarantineReprocessView.as_view(),
        name="quarantine-reprocess",
    ),
    path("quarantine/<str:doc_id>", views.QuarantineDetailView.as_view(), name="quarantine-detail"),
]
