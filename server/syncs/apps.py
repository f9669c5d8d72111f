from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "server.syncs"
    label = "syncs"
    verbose_name = "ODK Central sync runs"
