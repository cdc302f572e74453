"""The n8n node types the importer maps, by type name (without "n8n-nodes-base."), and
why the others are not mapped."""

from __future__ import annotations

from collections.abc import Callable

from . import actions, data, dates, flow, http, storage, stores, triggers, utilities
from .base import Context, Mapped, Source

Mapper = Callable[[Source, Context], Mapped]

MAPPERS: dict[str, Mapper] = {
    "manualTrigger": triggers.manual_trigger,
    "webhook": triggers.webhook,
    "scheduleTrigger": triggers.schedule_trigger,
    "executeWorkflowTrigger": triggers.workflow_trigger,
    "httpRequest": http.http_request,
    "set": data.set_node,
    "splitOut": data.split_out,
    "aggregate": data.aggregate,
    "renameKeys": data.rename_keys,
    "limit": data.limit,
    "sort": data.sort,
    "removeDuplicates": data.remove_duplicates,
    "if": flow.if_node,
    "filter": flow.filter_node,
    "switch": flow.switch_node,
    "merge": flow.merge_node,
    "wait": flow.wait_node,
    "splitInBatches": flow.split_in_batches,
    "noOp": flow.no_op,
    "stopAndError": flow.stop_and_error,
    "code": actions.code_node,
    "executeWorkflow": actions.execute_workflow,
    "respondToWebhook": actions.respond_to_webhook,
    "emailSend": actions.send_email,
    "errorTrigger": utilities.error_trigger,
    "summarize": utilities.summarize,
    "crypto": utilities.crypto,
    "xml": utilities.xml,
    "html": utilities.html,
    "postgres": stores.postgres,
    "mySql": stores.my_sql,
    "redis": stores.redis,
    "rabbitmq": stores.rabbitmq,
    "mqtt": stores.mqtt,
    "dateTime": dates.date_time,
    "awsS3": storage.aws_s3,
    "s3": storage.s3,
}

# Core nodes LinkFlow has no counterpart for yet, with what to do instead.
NOT_AVAILABLE: dict[str, str] = {
    "function": "the legacy Function node is JavaScript; rewrite it as a Python code node",
    "functionItem": "the legacy Function Item node is JavaScript; rewrite it as a Python code node",
    "itemLists": "the legacy Item Lists node: use Split Out / Aggregate / Sort / Limit nodes",
    "cron": "the legacy Cron node: use a Schedule Trigger",
    "interval": "the legacy Interval node: use a Schedule Trigger",
    "start": "the legacy Start node: a manual trigger is added instead",
}
