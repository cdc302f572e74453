"""What the engine gets from its host for one execution: the RunContext and its services."""

import threading
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings

from credentials.handoff import secrets_unseal
from credentials.services import credential_resolver
from linkflow.engine import RunContext
from linkflow.engine.net import AddressPolicy, allow_hosts_from, guarded_client

from .models import Execution
from .waits import resume_urls

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def address_policy() -> AddressPolicy:
    """Where nodes may connect, from the operator's settings: the one policy of every
    outbound connection (HTTP, SMTP and whatever protocol a node speaks next)."""
    return AddressPolicy(
        allow_private=settings.LINKFLOW_HTTP_ALLOW_PRIVATE,
        allow_hosts=allow_hosts_from(settings.LINKFLOW_HTTP_ALLOW_HOSTS),
    )


def http_client() -> httpx.Client:
    """One pooled, SSRF-guarded client per worker process, shared by its executions."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = guarded_client(
                    allow_private=settings.LINKFLOW_HTTP_ALLOW_PRIVATE,
                    allow_hosts=settings.LINKFLOW_HTTP_ALLOW_HOSTS,
                )
    return _client


def run_context(execution: Execution) -> RunContext:
    """The RunContext of one run of ``execution``: its data and the host's services."""
    # Imported here: these modules import the services that import this one.
    from .files import StorageFileStore
    from .mail import DjangoMailer
    from .subworkflows import SubworkflowHost

    started = execution.started_at or execution.queued_at
    execution_data: dict[str, Any] = {
        "id": str(execution.pk),
        "mode": execution.mode,
        "workflow_id": str(execution.workflow_id),
        # The same all run long, so a node before a flow.wait can send them on.
        **resume_urls(execution_id=str(execution.pk)),
    }
    return RunContext(
        execution=execution_data,
        trigger_input=execution.trigger_input,
        http_client=http_client(),
        trigger_node_id=execution.trigger_node_id or None,
        deadline=started + timedelta(seconds=settings.LINKFLOW_EXECUTION_TIMEOUT_SECONDS),
        # Per execution: it audits each credential's use and names the secrets to redact,
        # its caller's included (a sub-workflow's input may hold them).
        credentials=credential_resolver(
            workspace_id=execution.workspace_id,
            execution_id=str(execution.pk),
            inherited=secrets_unseal(sealed=execution.inherited_secrets),
        ),
        files=StorageFileStore(execution_id=str(execution.pk)),
        subworkflows=SubworkflowHost(parent=execution),
        mailer=DjangoMailer(policy=address_policy()),
        resume_call=execution.resume_call,
    )
