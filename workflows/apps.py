from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        # Node types from installed plugin packages become known to validation and workers.
        from billing.meters import workflow_meters_register
        from linkflow.engine.registry import load_plugins

        from .refusals import workflow_refusals_since
        from .selectors import workflows_active_count

        load_plugins()
        # What billing counts against the plan's active-workflow limit, and shows of the
        # cron fires it refused.
        workflow_meters_register(active=workflows_active_count, refused=workflow_refusals_since)
