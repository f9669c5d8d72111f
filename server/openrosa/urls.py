from django.urls import path

from server.openrosa import views

urlpatterns = [
    path("formList", views.form_list, name="openrosa-form-list"),
    path("submission", views.submission, name="openrosa-submission"),
    path("forms/<str:form_id>/form.xml", views.form_download, name="openrosa-form"),
    path("forms/<str:form_id>/manifest", views.manifest, name="openrosa-manifest"),
    path("forms/<str:form_id>/media/<str:filename>", views.media_file, name="openrosa-media"),
]
