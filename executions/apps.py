from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"

    def ready(self) -> None:
        from celery.signals import (
            beat_init,
            task_failure,
            task_unknown,
            worker_init,
            worker_process_init,
            worker_shutting_down,
        )

        from billing.meters import execution_meters_register
        from credentials.crypto import encrypted_column_register

        # Every process registers the tasks, not only workers: sending.py sends the run
        # task by its name.
        from executions import tasks  # noqa: F401
        from executions.console import console_figures
        from executions.maintenance import dead_letters
        from executions.metering import (
            executions_created_count,
            executions_finished_totals,
            executions_live_count,
        )
        from executions.metrics import execution_gauges
        from executions.running import shutdown
        from executions.running.subworkflows import child_runner_register
        from executions.services import execution_run
        from executions.sources import listeners
        from linkflow.core.admin_site import admin_panel_register
        from linkflow.core.metrics import fleet_gauges_register, worker_metrics_serve

        # Jobs that fail for good become dead letters (weak=False: module-level handlers).
        task_failure.connect(dead_letters.on_task_failure, weak=False)
        task_unknown.connect(dead_letters.on_task_unknown, weak=False)
        worker_init.connect(worker_metrics_serve, weak=False)
        # Beat holds the listening triggers' subscriptions (executions/sources/listeners.py).
        beat_init.connect(listeners.on_beat_init, weak=False)
        # A sub-workflow's inherited secrets are encrypted with the credential keys.
        encrypted_column_register(model="executions.Execution", field="inherited_secrets")
        # A stopping worker hands its executions back (executions/running/shutdown.py).
        worker_shutting_down.connect(shutdown.on_worker_shutting_down, weak=False)
        worker_process_init.connect(shutdown.on_worker_process_init, weak=False)
        # A waiting sub-workflow call runs its child inline (subworkflows.py).
        child_runner_register(run=execution_run)
        # What core shows of this app: the console's fleet panel and the /metrics gauges.
        admin_panel_register(name="console", figures=console_figures)
        fleet_gauges_register(name="executions", read=execution_gauges)
        # What billing counts against plan limits and in the daily usage rows.
        execution_meters_register(
            created=executions_created_count,
            live=executions_live_count,
            finished=executions_finished_totals,
        )
