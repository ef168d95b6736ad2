from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "gathering.api"
    label = "api"
    verbose_name = "API"
