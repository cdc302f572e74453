from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        # Node types from installed plugin packages become known to validation and workers.
        from linkflow.engine.registry import load_plugins

        load_plugins()
