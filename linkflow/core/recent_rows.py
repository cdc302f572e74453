"""A per-process cache of rows read on every request, kept a few seconds.

Used where a hot path reads the same row again and again (a webhook's trigger, a JWT's
user). An entry holds immutable values only, from which the caller builds fresh model
instances, so no two requests share one. ``forget()`` drops every entry at once and again
when the current transaction commits; a receiver of the models' save and delete signals
calls it, so a change is seen at once in the process that made it and, in the others,
once their entries age out.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.db import transaction

V = TypeVar("V")

# Far more keys than any process serves in a few seconds; past it the cache starts afresh.
MAX_ENTRIES = 10_000


class RecentRows(Generic[V]):
    """Values by key for ``seconds``; a load running while a change is forgotten does
    not put back what it read before the change."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.clock: Callable[[], float] = time.monotonic  # tests turn it forward
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: dict[Hashable, tuple[float, int, V]] = {}

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self.clock() and entry[1] == self._generation:
            return entry[2]
        return None

    def generation(self) -> int:
        """Read before loading, and hand to ``put``: a change during the load wins."""
        return self._generation

    def put(self, key: Hashable, value: V, *, generation: int) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.seconds, generation, value)

    def forget(self) -> None:
        """Forget every entry now and when the current transaction commits: the rows
        just written are what the next request must see."""
        self._forget()
        transaction.on_commit(self._forget)

    def _forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
