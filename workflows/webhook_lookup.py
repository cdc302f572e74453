"""Finding the trigger a production webhook call is for, through a short per-process cache.

Every call to a production URL needs its trigger row and a few fields of its workflow; a
query for them (compiled by the ORM, two model instances built) was a sixth of the web
process's CPU per call. Each process keeps the row's values for ``TRIGGER_CACHE_SECONDS``
and builds fresh instances from them per call, so no two requests share an instance.

Freshness: any save or delete of a trigger or a workflow in this process forgets every
entry at once and again when its transaction commits (so a call served meanwhile cannot
cache the old row for long), and the bulk writes of webhook_rows.py do the same. Another
process sees a change within ``TRIGGER_CACHE_SECONDS``: a workflow deactivated, a trigger
disabled, a token rotated or a workflow deleted may still answer there for that long.

An entry is keyed by exactly what the call named (its token, or its workspace and path),
so one URL's entry never answers another. Unknown URLs are not cached: a new trigger
answers at once.
"""

from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_delete, post_save

from linkflow.core.recent_rows import RecentRows

from .models import WebhookTrigger, Workflow

TRIGGER_CACHE_SECONDS = 2.0
# The workflow fields a call reads (webhook_calls, webhook_auth, webhook_failures,
# execution_create); any other field is deferred and loaded only if something asks.
_WORKFLOW_READ = frozenset(
    {"id", "workspace_id", "name", "active", "current_version_id", "webhook_error_details"}
)
_TRIGGER_NAMES = tuple(f.attname for f in WebhookTrigger._meta.concrete_fields)
# In the model's field order: Model.from_db fills the deferred ones in by that order.
_WORKFLOW_NAMES = tuple(
    f.attname for f in Workflow._meta.concrete_fields if f.attname in _WORKFLOW_READ
)

LookupKey = tuple[str, ...]
_Snapshot = tuple[tuple[Any, ...], tuple[Any, ...]]

recent = RecentRows[_Snapshot](TRIGGER_CACHE_SECONDS)


def trigger_cached(*, key: LookupKey, load: Callable[[], WebhookTrigger]) -> WebhookTrigger:
    """The trigger for ``key``: from the cache while fresh, else ``load()`` (which raises
    for an unknown URL, and is then not cached). A new instance on every call."""
    snapshot = recent.get(key)
    if snapshot is not None:
        return _built(snapshot)
    generation = recent.generation()
    trigger = load()
    recent.put(key, _snapshot(trigger), generation=generation)
    return trigger


def trigger_cache_forget() -> None:
    """Forget every cached trigger now and when the current transaction commits: the
    rows just written are what the next call must see."""
    recent.forget()


def _snapshot(trigger: WebhookTrigger) -> _Snapshot:
    # Only immutable values (str, UUID, float, bool, datetime): safe to share.
    workflow = trigger.workflow
    return (
        tuple(getattr(trigger, name) for name in _TRIGGER_NAMES),
        tuple(getattr(workflow, name) for name in _WORKFLOW_NAMES),
    )


def _built(snapshot: _Snapshot) -> WebhookTrigger:
    trigger_values, workflow_values = snapshot
    trigger = WebhookTrigger.from_db(DEFAULT_DB_ALIAS, _TRIGGER_NAMES, trigger_values)
    workflow = Workflow.from_db(DEFAULT_DB_ALIAS, _WORKFLOW_NAMES, workflow_values)
    WebhookTrigger.workflow.field.set_cached_value(trigger, workflow)
    return trigger


def _changed(**_kwargs: Any) -> None:
    trigger_cache_forget()


# Receivers, not calls in each service: the admin and cascading deletes (a workspace's,
# a workflow's) write these rows too. Bulk writes send no signal: webhook_rows.py calls
# trigger_cache_forget itself. Connected on import: a process that never imported the
# cache has nothing to forget.
for _model in (WebhookTrigger, Workflow):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"trigger-cache-{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"trigger-cache-d-{_model.__name__}")
