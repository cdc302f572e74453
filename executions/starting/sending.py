"""Sending an execution to the workers, by the name its Celery task is registered under.

The modules that create, dispatch and recover executions send the run task without
importing tasks.py, which imports them (the task calls the services). Celery's registry
holds the task in every process: executions/apps.py imports tasks.py at start-up.
"""

from celery import Task, current_app

# Stored in every queued message and in the workers' routing: it never changes.
RUN_TASK = "executions.run"


def run_task() -> Task:
    """The task that runs one execution (``tasks.run_execution``), from Celery's registry.

    Raises KeyError when tasks.py was never imported (Django not set up)."""
    task: Task = current_app.tasks[RUN_TASK]
    return task
