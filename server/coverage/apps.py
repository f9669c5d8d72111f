from django.apps import AppConfig


class CoverageConfig(AppConfig):
    name = "server.coverage"
    label = "coverage"
    verbose_name = "Coverage analytics"
