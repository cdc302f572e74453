"""Listening triggers: one ListenerTrigger row per trigger.redis/.amqp/.mqtt/.nats node.

Like the cron triggers' PeriodicTasks, rows exist only for ACTIVE workflows, so the
listener process (executions/sources/listeners.py) reads every row as "hold this subscription":
deactivating a workflow deletes its rows and the listener stops on its next sync,
activating it writes them and a listener starts, with no process restarted.
"""

from django.db import transaction

from linkflow.engine import Node
from linkflow.engine.listeners import LISTENER_TYPES

from .current_graph import workflow_graph
from .models import ListenerTrigger, Workflow


@transaction.atomic
def listener_triggers_sync(*, workflow: Workflow) -> None:
    """Make the workflow's ListenerTrigger rows match the enabled listening trigger nodes
    of its current graph while it is active (none while inactive). An edited node updates
    its row, so the listener restarts with the new params. Never raises for a valid graph."""
    wanted = _listener_nodes(workflow) if workflow.active else {}
    rows = ListenerTrigger.objects.filter(workflow=workflow)
    rows.exclude(node_id__in=list(wanted)).delete()
    existing = {row.node_id: row for row in rows}
    for node_id, node in wanted.items():
        values = {
            "node_type": node.type,
            "params": dict(node.params),
            "credential_id": str(node.credential or ""),
        }
        row = existing.get(node_id)
        if row is None:
            ListenerTrigger.objects.create(workflow=workflow, node_id=node_id, **values)
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.save(update_fields=[*values, "updated_at"])


def _listener_nodes(workflow: Workflow) -> dict[str, Node]:
    return {node.id: node for node in workflow_graph(workflow).nodes_of_type(*LISTENER_TYPES)}
