"""Schedule triggers: one django-celery-beat PeriodicTask per `trigger.schedule` node.

User cron triggers are data, not code: each enabled schedule node of an ACTIVE workflow's
current graph has a PeriodicTask (named ``linkflow-cron:<workflow>:<node>``) on a
CrontabSchedule in the node's time zone, so django-celery-beat handles daylight saving.
The task it sends, ``executions.fire_schedule``, decides the slot with croniter and runs
each slot once (``executions.sources.cron_fires``); the crontab only has to fire at least at every
tick, which lets cron features celery's crontab lacks ("L", "5#3", day-of-month OR
day-of-week) fire on a wider crontab that the slot check narrows again.
"""

import json
from typing import Any

from croniter import croniter
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from .current_graph import workflow_graph
from .models import Workflow

SCHEDULE_NODE_TYPE = "trigger.schedule"
# trigger.poll polls on its cron through the same PeriodicTasks (executions/sources/polling.py).
CRON_NODE_TYPES = (SCHEDULE_NODE_TYPE, "trigger.poll")
FIRE_TASK = "executions.fire_schedule"
_TASK_PREFIX = "linkflow-cron"


def schedule_task_name(*, workflow_id: Any, node_id: str) -> str:
    """The PeriodicTask name of one schedule node (unique across the installation)."""
    return f"{_TASK_PREFIX}:{workflow_id}:{node_id}"


@transaction.atomic
def schedule_triggers_sync(*, workflow: Workflow) -> None:
    """Make the workflow's PeriodicTasks match its schedule nodes, as of ``workflow`` in
    memory (``active`` and ``current_version``, the graph already validated).

    An inactive workflow keeps none; removed or disabled nodes lose theirs; an edited cron
    or time zone updates the row in place. Beats notice the change on their next tick.
    Never raises for a valid graph.
    """
    wanted = _schedule_nodes(workflow) if workflow.active else {}
    existing = {t.name: t for t in _tasks_of(workflow)}
    gone = [task.pk for name, task in existing.items() if name not in wanted]
    changed = bool(gone)
    if gone:
        PeriodicTask.objects.filter(pk__in=gone).delete()
    for name, (node_id, params) in wanted.items():
        changed |= _task_write(
            task=existing.get(name), name=name, workflow=workflow, node_id=node_id, params=params
        )
    if changed:
        PeriodicTasks.update_changed()


def schedule_triggers_remove(*, workflow: Workflow) -> None:
    """Delete every PeriodicTask of the workflow (it is being deleted: they have no FK)."""
    if _tasks_of(workflow).delete()[0]:
        PeriodicTasks.update_changed()


def _tasks_of(workflow: Workflow) -> Any:
    return PeriodicTask.objects.filter(name__startswith=f"{_TASK_PREFIX}:{workflow.pk}:")


def _schedule_nodes(workflow: Workflow) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        schedule_task_name(workflow_id=workflow.pk, node_id=node.id): (node.id, dict(node.params))
        for node in workflow_graph(workflow).nodes_of_type(*CRON_NODE_TYPES)
    }


def _task_write(
    *,
    task: PeriodicTask | None,
    name: str,
    workflow: Workflow,
    node_id: str,
    params: dict[str, Any],
) -> bool:
    """Create or update one row; True when something was written."""
    crontab = _crontab_for(cron=params["cron"], timezone_name=params.get("timezone") or "UTC")
    # "fired_at": None asks the leader scheduler to stamp the send time (linkflow.scheduler).
    kwargs = json.dumps({"workflow_id": str(workflow.pk), "node_id": node_id, "fired_at": None})
    if task is None:
        PeriodicTask.objects.create(
            name=name,
            task=FIRE_TASK,
            crontab=crontab,
            kwargs=kwargs,
            description=f"{workflow.name} / {node_id}",
        )
        return True
    if task.crontab_id == crontab.pk and task.kwargs == kwargs and task.enabled:
        return False
    if task.crontab_id != crontab.pk:
        # Count the new cron from now, or the beat would "catch up" a tick it never had.
        task.last_run_at = None
    task.crontab, task.kwargs, task.enabled = crontab, kwargs, True
    task.save()
    return True


def _crontab_for(*, cron: str, timezone_name: str) -> CrontabSchedule:
    """A CrontabSchedule firing at every tick of ``cron`` (and, for what celery's crontab
    cannot say, at some more times the fire task ignores)."""
    fields, _ = croniter.expand(cron)
    minute, hour, day_of_month, month, day_of_week = (_field(values) for values in fields)
    raw = cron.lower().split()
    special = any(c in raw[2] for c in "lw") or any(c in raw[4] for c in "l#")
    if special or (day_of_month != "*" and day_of_week != "*"):
        # "L", "W" and "#" are beyond celery; and cron ORs a restricted day-of-month with a
        # restricted day-of-week where celery ANDs them: fire daily, let the slot decide.
        day_of_month = day_of_week = "*"
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=timezone_name,
    )
    return schedule


def _plain(values: list[Any]) -> bool:
    return values == ["*"] or all(isinstance(v, int) for v in values)


def _field(values: list[Any]) -> str:
    if not _plain(values) or values == ["*"]:
        return "*"
    return ",".join(str(v) for v in values)
