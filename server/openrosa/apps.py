from django.apps import AppConfig


class OpenRosaConfig(AppConfig):
    name = "server.openrosa"
    label = "openrosa"
    verbose_name = "OpenRosa server for ODK Collect"
