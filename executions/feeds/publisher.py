"""Publishing events after commit, on one background thread per process.

Publishing never makes the caller wait for subscribers or for Redis: events are handed
to one background thread per process, which numbers, logs and broadcasts them (log.py) in
the order they were published, everything submitted meanwhile in one batch. An event is
published only once the database write it describes has committed
(``events_publish_on_commit``), like Zulip's ``send_event_on_commit``; a rolled-back write
publishes nothing.
"""

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from executions.feeds.completion import completion_publish
from executions.feeds.log import event_log

logger = logging.getLogger(__name__)

# Submissions waiting for the publisher thread; beyond this they are dropped, not waited
# for. At most this many submissions go out in one batch.
_QUEUE_MAX = 10_000
_BATCH_MAX = 200


def events_publish_on_commit(
    events: Iterable[dict[str, Any]], *, reply: tuple[str, dict[str, Any]] | None = None
) -> None:
    """Publish the events, in order, once the current transaction commits.

    Outside a transaction they are published at once. Never blocks on Redis or on
    subscribers; an event that cannot be delivered is logged and dropped (subscribers
    recover from the log or a snapshot), it never fails the caller.

    ``reply`` (execution id, outcome) is a sync webhook's answer (completion.py), sent
    after the events in the same Redis round trip. Unlike an event it is never dropped:
    when the publisher cannot take it, it is sent from here.
    """
    pending = list(events)
    if pending or reply is not None:
        transaction.on_commit(lambda: _publisher().submit(pending, reply=reply))


def events_flush(timeout: float = 5.0) -> bool:
    """Wait until this process has published everything submitted so far (tests, exit)."""
    return _publisher().flush(timeout)


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Publisher:
    """Numbers, logs and broadcasts events on one daemon thread, in submission order.

    Whatever was submitted while the previous batch was out goes in the next one: one
    Redis round trip per batch however many executions and events it holds, the sync
    webhook replies of the batch included.
    """

    def __init__(self) -> None:
        self.queue: queue.Queue[_Submission | _Flush] = queue.Queue(maxsize=_QUEUE_MAX)
        self.thread = threading.Thread(target=self._run, name="execution-events", daemon=True)
        self.thread.start()

    def submit(
        self, events: list[dict[str, Any]], *, reply: tuple[str, dict[str, Any]] | None = None
    ) -> None:
        published_at = time.time()
        stamped = [{**event, "published_at": published_at} for event in events]
        try:
            self.queue.put_nowait(_Submission(stamped, reply))
        except queue.Full:
            if events:
                logger.warning("event queue full, dropped %s events of %s", len(events), events[0])
            if reply is not None:  # a caller is waiting for it: never dropped
                completion_publish(execution_id=reply[0], outcome=reply[1])

    def flush(self, timeout: float) -> bool:
        marker = _Flush()
        self.queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    def _run(self) -> None:
        while True:
            items = [self.queue.get()]
            while len(items) < _BATCH_MAX:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            submissions = [item for item in items if isinstance(item, _Submission)]
            batch = [event for item in submissions for event in item.events]
            replies = [item.reply for item in submissions if item.reply is not None]
            try:
                if batch or replies:
                    event_log().publish(batch, replies)
            except Exception:  # a broken broadcast must not stop later events
                logger.exception("could not publish %s events", len(batch))
                self._reply_alone(replies)  # nothing went, or the replies did not
            for item in items:
                if isinstance(item, _Flush):
                    item.done.set()

    @staticmethod
    def _reply_alone(replies: list[tuple[str, dict[str, Any]]]) -> None:
        # The batch did not reach Redis, or its replies failed: each gets its own try.
        for execution_id, outcome in replies:
            try:
                completion_publish(execution_id=execution_id, outcome=outcome)
            except Exception:
                logger.exception("could not announce the end of execution %s", execution_id)


@dataclass
class _Submission:
    events: list[dict[str, Any]]
    reply: tuple[str, dict[str, Any]] | None = None


_publisher_lock = threading.Lock()
_publisher_state: dict[str, Any] = {"pid": None, "publisher": None}


def _publisher() -> _Publisher:
    # Started lazily and again after a fork: a prefork worker child needs its own thread.
    with _publisher_lock:
        if _publisher_state["pid"] != os.getpid():
            _publisher_state.update(pid=os.getpid(), publisher=_Publisher())
        publisher: _Publisher = _publisher_state["publisher"]
        return publisher


@atexit.register
def _drain_at_exit() -> None:
    if _publisher_state["pid"] == os.getpid():
        _publisher_state["publisher"].flush(2.0)
