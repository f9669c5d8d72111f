from django.apps import AppConfig


class DueConfig(AppConfig):
    name = "server.due"
    label = "due"
    verbose_name = "Due and overdue children"
