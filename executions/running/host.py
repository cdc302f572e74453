"""What the engine gets from its host for one execution: the RunContext and its services."""

import functools
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from credentials.handoff import secrets_unseal
from credentials.services import credential_resolver
from executions.models import Execution
from executions.running.files import StorageFileStore
from executions.running.mail import DjangoMailer
from executions.running.subworkflows import SubworkflowHost
from executions.running.waits import resume_urls
from linkflow.engine import RunContext
from linkflow.engine.net import (
    AddressPolicy,
    IPNetwork,
    allow_hosts_from,
    guarded_client,
    own_endpoints,
)

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def address_policy() -> AddressPolicy:
    """Where nodes may connect, from the operator's settings: the one policy of every
    outbound connection (HTTP, SMTP, databases and brokers). LinkFlow's own PostgreSQL,
    Redis and broker are refused to every node, even where private addresses are allowed:
    a node pointed at them could read every workspace's data and live events."""
    return AddressPolicy(
        allow_private=settings.LINKFLOW_HTTP_ALLOW_PRIVATE,
        allow_hosts=allow_hosts_from(settings.LINKFLOW_HTTP_ALLOW_HOSTS),
        own_endpoints=_own_endpoints(tuple(_own_services())),
    )


@functools.lru_cache(maxsize=8)
def _own_endpoints(services: tuple[tuple[str, int], ...]) -> frozenset[tuple[IPNetwork, int]]:
    # Resolved once per process and setting: a run must not pay a DNS lookup per service.
    return own_endpoints(services)


_SERVICE_PORTS = {"postgres": 5432, "postgresql": 5432, "redis": 6379, "rediss": 6379}
_SERVICE_PORTS |= {"amqp": 5672, "amqps": 5671, "pyamqp": 5672}


def _own_services() -> list[tuple[str, int]]:
    """(host, port) of every server LinkFlow itself talks to, from its settings."""
    found = []
    for database in settings.DATABASES.values():
        if "postgresql" in database.get("ENGINE", "") or "mysql" in database.get("ENGINE", ""):
            default = 3306 if "mysql" in database["ENGINE"] else 5432
            port = int(database.get("PORT") or default)
            found.append((str(database.get("HOST") or "127.0.0.1"), port))
    urls = [settings.REDIS_URL, str(getattr(settings, "CELERY_BROKER_URL", "") or "")]
    for layer in getattr(settings, "CHANNEL_LAYERS", {}).values():
        urls.extend(str(h) for h in layer.get("CONFIG", {}).get("hosts", ()))
    for cache in getattr(settings, "CACHES", {}).values():
        location = cache.get("LOCATION")
        urls.extend(location if isinstance(location, list) else [str(location or "")])
    for url in urls:
        parsed = urlsplit(url)
        if parsed.scheme in _SERVICE_PORTS and parsed.hostname:
            found.append((parsed.hostname, parsed.port or _SERVICE_PORTS[parsed.scheme]))
    return found


def http_client() -> httpx.Client:
    """One pooled, SSRF-guarded client per worker process, shared by its executions."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = guarded_client(policy=address_policy())
    return _client


def run_context(execution: Execution) -> RunContext:
    """The RunContext of one run of ``execution``: its data and the host's services."""
    started = execution.started_at or execution.queued_at
    execution_data: dict[str, Any] = {
        "id": str(execution.pk),
        "mode": execution.mode,
        "workflow_id": str(execution.workflow_id),
        # The same all run long, so a node before a flow.wait can send them on.
        **resume_urls(execution_id=str(execution.pk)),
    }
    policy = address_policy()
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
        mailer=DjangoMailer(policy=policy),
        address_policy=policy,
        resume_call=execution.resume_call,
    )
