from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "linkflow.core"
    label = "core"
