"""The names tasks are sent and stored under: queued messages, beat's schedule and the
PeriodicTask rows of cron triggers name them, so moving a module must not change one."""

from celery import current_app
from django.conf import settings

from executions.starting.sending import run_task
from executions.tasks import run_execution
from workflows.cron_sync import FIRE_TASK


def test_the_run_task_is_found_by_the_name_queued_messages_carry():
    task = run_task()

    assert task.name == "executions.run"
    assert task is current_app.tasks[run_execution.name]


def test_every_task_beat_and_cron_triggers_send_is_registered_under_its_name():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    current_app.loader.import_default_modules()  # what a worker imports as it starts

    assert FIRE_TASK == "executions.fire_schedule"
    assert sorted((scheduled | {FIRE_TASK}) - set(current_app.tasks)) == []
