"""The listener process: the subscriptions of the listening triggers, one per trigger
across the deployment.

Every beat process (and the embedded mode's one process) runs a ListenerSupervisor
thread (docs/architecture.md says why beat). Every LINKFLOW_LISTENER_SYNC_SECONDS it
reads the ListenerTrigger rows (they exist only for active workflows) and, per row, takes
or renews a Redis lock ``linkflow:listener:<workflow>:<node>`` (compare-and-renew, the
beat leader's lock class): only the holder listens, so two beats never both consume
one trigger, and a dead beat's triggers move to the other within the lock's TTL. A row
that disappeared (deactivated, node removed) or changed stops its listener; a new one
starts. Each listener is a thread running ``listen_forever`` (reconnect with back-off).

A message becomes an execution through ``listener_deliver`` (mode "event", admitted like
any external start); the driver acknowledges it only after that returned, so the run is
stored first, and the broker's message id is the dedupe key that keeps a redelivery to
one execution.
"""

import atexit
import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from credentials.services import credential_resolver
from executions.models import Execution, ExecutionMode
from executions.running.host import address_policy
from executions.starting.creation import Admission, Dedupe, NewExecution, execution_admit
from linkflow.core.errors import LinkflowError
from linkflow.engine.listeners import Listener, Message, Session, Target, listen_forever
from linkflow.engine.listeners import listener_for as driver_for
from workflows.models import ListenerTrigger, Workflow
from workflows.refusals import workflow_refusal_record

logger = logging.getLogger(__name__)

# A broker redelivers within minutes; past a day the key is given up (a purged and
# recreated stream starts its sequences again).
DEDUPE_WINDOW = timedelta(days=1)
_MAX_KEY = 200  # Execution.dedupe_key


class WorkflowInactive(Exception):
    """The trigger's workflow was deactivated or removed: the message is not taken (it
    stays with the broker) and the supervisor stops the listener on its next sync."""


def listener_deliver(*, workflow_id: Any, node_id: str, message: Message) -> Execution | None:
    """Store the execution of one message: mode "event", ``message.item`` as the trigger
    input, ``message.dedupe_key`` (if any) making a redelivered message the earlier
    execution. Returns it, or None when the plan refused it (recorded on the workflow as
    its last refusal; the message is acknowledged and dropped, like a refused cron fire).

    Raises WorkflowInactive when the workflow is no longer active (the message must not be
    acknowledged) and database errors as they come (neither then).
    """
    close_old_connections()
    workflow = Workflow.objects.filter(pk=workflow_id, active=True).first()
    if workflow is None:
        raise WorkflowInactive(str(workflow_id))
    new = NewExecution(
        workspace_id=workflow.workspace_id,
        workflow_id=workflow.pk,
        version_id=workflow.current_version_id,
        mode=ExecutionMode.EVENT,
        trigger_input=message.item,
        trigger_node_id=node_id,
    )
    dedupe = None
    if message.dedupe_key:
        # Per trigger: two triggers of one workflow may see the same message id.
        key = f"{node_id}:{message.dedupe_key}"
        if len(key) > _MAX_KEY:
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        dedupe = Dedupe(key=key, window=DEDUPE_WINDOW)
    try:
        return execution_admit(new=new, admission=Admission.EXTERNAL, dedupe=dedupe)
    except LinkflowError as refused:
        workflow_refusal_record(
            workflow=workflow, node_id=node_id, slot=timezone.now(), refused=refused
        )
        return None


class _HostedListener:
    """A trigger's driver, built afresh on each (re)connect: an edited credential or a
    changed address policy applies from the next connection."""

    def __init__(self, row: ListenerTrigger) -> None:
        self._row = row

    def listen(self, session: Session) -> None:
        row = self._row
        close_old_connections()
        workspace_id = Workflow.objects.values_list("workspace_id", flat=True).get(
            pk=row.workflow_id
        )
        fields = (
            credential_resolver(workspace_id=workspace_id)(row.credential_id)
            if row.credential_id
            else {}
        )
        kind = row.node_type.removeprefix("trigger.")
        if fields.get("type") not in (kind, None):
            raise ValueError(f"{row.node_type} needs a {kind} credential")
        target = Target(
            fields=fields,
            params=row.params,
            policy=address_policy(),
            name=f"{row.workflow_id}:{row.node_id}",
        )
        driver_for(row.node_type, target).listen(session)


class _LocalLock:
    """The embedded mode's lock: one process holds every listener."""

    def acquire(self) -> bool:
        return True

    def renew(self) -> bool:
        return True

    def release(self) -> None:
        return None


@dataclass
class _Running:
    fingerprint: tuple[Any, ...]
    session: Session
    thread: threading.Thread
    lock: Any
    valid_until: float = field(default=0.0)


class ListenerSupervisor:
    """Holds the listeners this process won the locks of; see the module docstring.
    ``sync()`` is one pass (the thread calls it every ``sync_seconds``), ``stop()`` ends
    every listener and gives its lock up."""

    def __init__(self, *, redis_url: str | None = None, sync_seconds: float | None = None):
        self._redis_url = settings.REDIS_URL if redis_url is None else redis_url
        self._sync_seconds = sync_seconds or settings.LINKFLOW_LISTENER_SYNC_SECONDS
        self._ttl = settings.LINKFLOW_LISTENER_LOCK_TTL_SECONDS
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[str, _Running] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ListenerSupervisor":
        """Start the sync loop on a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._loop, name="listeners", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # the database or Redis is away: try again next pass
                logger.exception("listener sync failed")
            self._stop.wait(self._sync_seconds)

    def sync(self) -> None:
        """Stop listeners whose row went, changed or whose lock was lost; start one for
        each row whose lock this process takes. Raises database errors."""
        close_old_connections()
        # Rows exist only for active workflows; the filter covers any path that deactivates
        # a workflow without its services (a bulk update, the admin).
        rows = {_key(row): row for row in ListenerTrigger.objects.filter(workflow__active=True)}
        for key, running in list(self.running.items()):
            row = rows.get(key)
            if row is None or _fingerprint(row) != running.fingerprint:
                self._halt(key, why="its trigger changed or its workflow is inactive")
            elif not self._renewed(running):
                self._halt(key, why="its lock was lost", release=False)
        for key, row in rows.items():
            if key not in self.running and not self._stop.is_set():
                self._launch(key, row)

    def stop(self) -> None:
        """Stop every listener (each within a poll interval) and release their locks."""
        self._stop.set()
        for key in list(self.running):
            self._halt(key, why="the process stops")

    def _lock(self, key: str) -> Any:
        if not self._redis_url:
            return _LocalLock()
        # Imported here: the scheduler module pulls in django-celery-beat, which only the
        # beat process needs.
        from linkflow.scheduler import RedisLeaderLock

        return RedisLeaderLock(
            url=self._redis_url,
            key=f"linkflow:listener:{key}",
            identity=self.identity,
            ttl_seconds=self._ttl,
        )

    def _renewed(self, running: _Running) -> bool:
        started = time.monotonic()
        try:
            held = bool(running.lock.renew())
        except redis.RedisError:
            return started < running.valid_until  # the last renewal still holds
        if held:
            running.valid_until = started + self._ttl - self._sync_seconds
        return held

    def _launch(self, key: str, row: ListenerTrigger) -> None:
        lock = self._lock(key)
        started = time.monotonic()
        try:
            if not lock.acquire():
                return  # another process listens
        except redis.RedisError as error:
            logger.warning("listener %s: cannot take its lock: %s", key, error)
            return
        session = Session(deliver=_deliverer(row))
        listener: Listener = _HostedListener(row)
        thread = threading.Thread(
            target=_run,
            args=(listener, session, key),
            name=f"listener-{row.node_type}-{key}",
            daemon=True,
        )
        self.running[key] = _Running(
            fingerprint=_fingerprint(row),
            session=session,
            thread=thread,
            lock=lock,
            valid_until=started + self._ttl - self._sync_seconds,
        )
        thread.start()
        logger.info("listener %s (%s) started by %s", key, row.node_type, self.identity)

    def _halt(self, key: str, *, why: str, release: bool = True) -> None:
        running = self.running.pop(key)
        running.session.stop.set()
        running.thread.join(timeout=30)
        if release:
            with contextlib.suppress(redis.RedisError):  # then it expires
                running.lock.release()
        logger.info("listener %s stopped: %s", key, why)


def _key(row: ListenerTrigger) -> str:
    return f"{row.workflow_id}:{row.node_id}"


def _fingerprint(row: ListenerTrigger) -> tuple[Any, ...]:
    return (row.pk, row.node_type, repr(row.params), row.credential_id)


def _deliverer(row: ListenerTrigger) -> Any:
    workflow_id, node_id = row.workflow_id, row.node_id
    return lambda message: listener_deliver(
        workflow_id=workflow_id, node_id=node_id, message=message
    )


def _run(listener: Listener, session: Session, key: str) -> None:
    try:
        listen_forever(listener, session, label=key)
    finally:
        close_old_connections()


_supervisor: ListenerSupervisor | None = None


def on_beat_init(**_: Any) -> None:
    """celery's beat_init: start this process's supervisor (the beat role and the
    embedded mode's scheduler both send it)."""
    global _supervisor
    if _supervisor is None and settings.LINKFLOW_LISTENERS_ENABLED:
        _supervisor = ListenerSupervisor().start()
        # A beat that stops gives its locks up, so the other beat takes the triggers over
        # at its next sync instead of after the locks' TTL.
        atexit.register(_supervisor.stop)
