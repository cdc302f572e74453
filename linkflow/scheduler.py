"""The beat role's scheduler: django-celery-beat's database schedule behind a leader lock.

Two or more beats run; only the one holding the Redis lock sends. The leader renews the
lock on every tick (compare-and-renew, so it never extends a lock another beat took) and
deletes it on shutdown (compare-and-delete); a standby keeps ticking on a short interval
trying ``SET key value NX PX ttl``, so it takes over at most ``ttl + standby interval``
after the leader died. The lock's value names the leader (``leader_identity()``).

Embedded mode (no REDIS_URL) has one process and so one beat: the lock is local and
always held. Duplicate sends stay possible in edge cases (a leader paused longer than the
TTL); cron fires are therefore deduplicated per slot by the executions app as well.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

# KEYS[1] lock, ARGV[1] our identity, ARGV[2] ttl ms: extend only a lock that is still ours.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1] lock, ARGV[1] our identity: delete only a lock that is still ours.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
# An entry whose kwargs hold ``"fired_at": None`` gets the time it was sent (ISO, UTC):
# the cron-trigger task derives its slot from it, not from when a worker picked it up.
FIRED_AT_KWARG = "fired_at"

_leading = threading.Event()


def is_leader() -> bool:
    """Whether a scheduler in this process currently holds the beat leadership."""
    return _leading.is_set()


def lock_key() -> str:
    """The Redis key of the lock. Beats serving the same queue elect one leader."""
    return settings.LINKFLOW_BEAT_LOCK_KEY or (
        f"linkflow:beat:leader:{settings.CELERY_TASK_DEFAULT_QUEUE}"
    )


def leader_identity() -> str | None:
    """The identity ("host:pid:token") of the beat holding the lock, or None if none does.

    Embedded mode answers this process's beat identity while it leads. Raises
    ``redis.RedisError`` when Redis cannot be read.
    """
    if not settings.REDIS_URL:
        return _LocalLock.holder
    value = redis.Redis.from_url(settings.REDIS_URL).get(lock_key())
    return value.decode() if isinstance(value, bytes) else value


class LeaderLock(Protocol):
    identity: str

    def acquire(self) -> bool: ...
    def renew(self) -> bool: ...
    def release(self) -> None: ...


class RedisLeaderLock:
    """A Redis lock with an owner value and a TTL. Each call raises ``redis.RedisError``
    when Redis cannot be reached; the caller decides what that means for leadership."""

    def __init__(self, *, url: str, key: str, identity: str, ttl_seconds: float) -> None:
        self.identity = identity
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        # Short timeouts: a hung Redis must not stall the tick past the lock's TTL.
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    def acquire(self) -> bool:
        """Take the lock if nobody holds it."""
        return bool(self._redis.set(self.key, self.identity, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        """Extend the lock's TTL; False when it is no longer ours (expired or taken)."""
        return bool(self._renew(keys=[self.key], args=[self.identity, self.ttl_ms]))

    def release(self) -> None:
        """Delete the lock if it is still ours, so a standby need not wait for the TTL."""
        self._release(keys=[self.key], args=[self.identity])


class _LocalLock:
    """The embedded mode's lock: one process, one beat, always the leader."""

    holder: str | None = None

    def __init__(self, *, identity: str) -> None:
        self.identity = identity

    def acquire(self) -> bool:
        _LocalLock.holder = self.identity
        return True

    def renew(self) -> bool:
        return True

    def release(self) -> None:
        if _LocalLock.holder == self.identity:
            _LocalLock.holder = None


# django_celery_beat ships no types, so its class is Any to mypy.
class LeaderScheduler(DatabaseScheduler):  # type: ignore[misc]
    """A DatabaseScheduler that sends due tasks only while it holds the leader lock.

    Each tick first acquires or renews the lock. The leader then ticks as usual, but never
    sleeps longer than the renew interval; a standby sends nothing and retries every
    ``LINKFLOW_BEAT_STANDBY_SECONDS``. On taking over, the schedule is re-read from the
    database, so the last-run times the old leader stored are respected. A Redis error
    keeps the leader leading only while its last renewal is certainly still valid.
    """

    # The last-run times are what a successor reads: store them often.
    sync_every = 10

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._leader = False
        self._standby_announced = False
        self._valid_until = 0.0
        self._ttl = float(settings.LINKFLOW_BEAT_LOCK_TTL_SECONDS)
        self._renew_every = float(settings.LINKFLOW_BEAT_RENEW_SECONDS)
        self._standby_every = float(settings.LINKFLOW_BEAT_STANDBY_SECONDS)
        identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock: LeaderLock
        if settings.REDIS_URL:
            self._lock = RedisLeaderLock(
                url=settings.REDIS_URL, key=lock_key(), identity=identity, ttl_seconds=self._ttl
            )
        else:
            self._lock = _LocalLock(identity=identity)
        super().__init__(*args, **kwargs)

    @property
    def identity(self) -> str:
        return self._lock.identity

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One scheduler pass: hold (or try to take) the lock, then send if leading."""
        self._leadership_refresh()
        if not self._leader:
            return self._standby_every
        due_in: float = super().tick(*args, **kwargs)
        return min(due_in, self._renew_every)

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kw: Any) -> Any:
        """Send the entry's task, stamping a ``fired_at: None`` kwarg with the send time."""
        if FIRED_AT_KWARG in entry.kwargs and entry.kwargs[FIRED_AT_KWARG] is None:
            entry = _with_kwargs(entry, {FIRED_AT_KWARG: datetime.now(UTC).isoformat()})
        return super().apply_async(entry, producer, advance, **kw)

    def close(self) -> None:
        """Store the schedule, then give the lock up so a standby takes over at once."""
        try:
            super().close()
        finally:
            if self._leader:
                self._step_down("released on shutdown")
                try:
                    self._lock.release()
                except redis.RedisError:
                    logger.warning("beat %s could not release the leader lock", self.identity)

    def _leadership_refresh(self) -> None:
        started = time.monotonic()
        try:
            held = self._lock.renew() if self._leader else self._lock.acquire()
        except redis.RedisError as error:
            if self._leader and started < self._valid_until:
                return  # the last renewal still holds; try again next tick
            if self._leader:
                self._step_down(f"lost: Redis unreachable ({error})")
            return
        if held:
            # Counted from before the call: the lock was set no earlier than that.
            self._valid_until = started + self._ttl - self._renew_every
            if not self._leader:
                self._take_over()
        elif self._leader:
            self._step_down("lost: the lock expired or another beat holds it")
        elif not self._standby_announced:
            self._standby_announced = True
            logger.info("beat %s is on standby; another beat holds the lock", self.identity)

    def _take_over(self) -> None:
        self._leader = True
        _leading.set()
        logger.info("beat %s is now the leader (lock %s)", self.identity, _lock_name(self._lock))
        # Re-read the rows: the previous leader stored when each entry last ran.
        self._schedule = self.all_as_schedule()
        self._heap = None
        self.old_schedulers = None

    def _step_down(self, why: str) -> None:
        self._leader = False
        self._standby_announced = True
        _leading.clear()
        logger.warning("beat %s is no longer the leader: %s", self.identity, why)


def _with_kwargs(entry: Any, extra: dict[str, Any]) -> Any:
    """A copy of the entry with ``extra`` kwargs (entries do not support copy.copy)."""
    clone = object.__new__(type(entry))
    clone.__dict__.update(entry.__dict__, kwargs={**entry.kwargs, **extra})
    return clone


def _lock_name(lock: LeaderLock) -> str:
    return getattr(lock, "key", "local")
