"""Cron fires: turning a beat's send into exactly one execution per scheduled slot.

The beat sends ``executions.fire_schedule`` at each tick of a `trigger.schedule` node's
cron (the PeriodicTask rows come from ``workflows.cron_sync``). The slot is the latest cron
tick at or before the time the beat sent the fire, computed with croniter in the node's
time zone, so two beats sending the same fire, or a new leader catching up on a fire the
old one already sent, name the same slot; the execution's dedupe key ``cron:<node>:<slot>``
under the (workflow, dedupe_key) unique constraint then keeps it to one execution.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.utils import timezone

from executions.models import Execution, ExecutionMode
from executions.starting.creation import Admission, Dedupe, NewExecution, execution_admit
from linkflow.core.errors import LinkflowError
from linkflow.engine import Graph
from workflows.models import Workflow
from workflows.refusals import workflow_refusal_record

logger = logging.getLogger(__name__)

SCHEDULE_NODE_TYPE = "trigger.schedule"
# Fired by the same cron machinery; each fire polls (polling.py) instead of starting one run.
POLL_NODE_TYPE = "trigger.poll"


def cron_slot(*, cron: str, timezone_name: str, at: datetime) -> datetime:
    """The latest tick of ``cron`` (five fields, read in ``timezone_name``) at or before
    ``at`` (aware), as an aware datetime in that zone. Deterministic: the same inputs
    always give the same slot. Raises ValueError for a cron croniter cannot read."""
    zone = ZoneInfo(timezone_name)
    # Ticks fall on whole minutes: "strictly before the next second" is "at or before at".
    base = at.astimezone(zone).replace(microsecond=0) + timedelta(seconds=1)
    slot: datetime = croniter(cron, base).get_prev(datetime)
    return slot


def schedule_fire(*, workflow_id: UUID | str, node_id: str, slot: datetime) -> Execution | None:
    """Start the workflow for one cron slot of its schedule node; at most once per slot.

    Creates an execution (mode "schedule", trigger input ``{"scheduled_at", "timezone"}``)
    of the current version and enqueues it on commit. A second call for the same slot,
    from any process, returns the first call's execution. Returns None, creating nothing,
    when the workflow is gone or inactive or the node is no longer an enabled schedule
    trigger (a fire sent just before the change).
    """
    found = _schedule_node(workflow_id=workflow_id, node_id=node_id)
    if found is None:
        return None
    workflow, params = found
    return _execution_for_slot(workflow=workflow, node_id=node_id, params=params, slot=slot)


def schedule_fire_due(
    *, workflow_id: UUID | str, node_id: str, fired_at: datetime | None = None
) -> Execution | None:
    """Fire the node's slot that was due when the beat sent the fire (``fired_at``; now
    when unknown). Skips (None) a slot more than LINKFLOW_SCHEDULE_GRACE_SECONDS older than
    ``fired_at``: a late catch-up, or a beat looking at a time the cron does not name.
    Otherwise as ``schedule_fire``."""
    found = _schedule_node(workflow_id=workflow_id, node_id=node_id)
    if found is None:
        return None
    workflow, params = found
    fired_at = fired_at or timezone.now()
    slot = cron_slot(cron=params["cron"], timezone_name=_zone(params), at=fired_at)
    late = (fired_at - slot).total_seconds()
    if late > settings.LINKFLOW_SCHEDULE_GRACE_SECONDS:
        logger.info("cron %s/%s: slot %s is %.0fs old, skipped", workflow.pk, node_id, slot, late)
        return None
    if params.get("url") is not None:  # a trigger.poll node: one run per new item
        from executions.sources.polling import poll_fire

        started = poll_fire(workflow=workflow, node_id=node_id, params=params, slot=slot)
        return started[0] if started else None
    return _execution_for_slot(workflow=workflow, node_id=node_id, params=params, slot=slot)


def _schedule_node(
    *, workflow_id: UUID | str, node_id: str
) -> tuple[Workflow, dict[str, Any]] | None:
    workflow = (
        Workflow.objects.select_related("current_version")
        .filter(pk=workflow_id, active=True)
        .first()
    )
    if workflow is None or workflow.current_version is None:
        return None
    graph = Graph.from_dict(workflow.current_version.graph)
    node = graph.find(node_id)
    if node is None or node.type not in (SCHEDULE_NODE_TYPE, POLL_NODE_TYPE) or node.disabled:
        return None
    return workflow, dict(node.params)


def _execution_for_slot(
    *, workflow: Workflow, node_id: str, params: dict[str, Any], slot: datetime
) -> Execution | None:
    zone = _zone(params)
    # The key uses UTC so one instant is one key whatever offset the caller wrote it in.
    dedupe = Dedupe(key=f"cron:{node_id}:{slot.astimezone(UTC).isoformat()}")
    new = NewExecution(
        workspace_id=workflow.workspace_id,
        workflow_id=workflow.pk,
        version_id=workflow.current_version_id,
        mode=ExecutionMode.SCHEDULE,
        trigger_input={
            "scheduled_at": slot.astimezone(ZoneInfo(zone)).isoformat(),
            "timezone": zone,
        },
        trigger_node_id=node_id,
    )
    try:
        return execution_admit(new=new, admission=Admission.EXTERNAL, dedupe=dedupe)
    except LinkflowError as refused:
        # Nobody is there to answer a 402: the fire is skipped, and the workflow keeps why.
        logger.warning("cron fire of %s/%s skipped: %s", workflow.pk, node_id, refused.details)
        workflow_refusal_record(workflow=workflow, node_id=node_id, slot=slot, refused=refused)
        return None


def _zone(params: dict[str, Any]) -> str:
    return params.get("timezone") or "UTC"
