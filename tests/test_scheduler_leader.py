"""The beat role: of several beats only the Redis lock's holder sends, and a standby takes
over when the leader dies."""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from linkflow.celery import app
from linkflow.scheduler import LeaderScheduler, RedisLeaderLock, is_leader, leader_identity

from .conftest import ROOT, database_url, require_services, wait_for

HEARTBEAT = "test-heartbeat"


@pytest.fixture
def lock_key(settings: Any) -> Iterator[str]:
    """A lock key of this test's own, so no other beat (or test run) takes part."""
    require_services()
    key = f"linkflow:test-beat:{uuid.uuid4().hex}"
    settings.LINKFLOW_BEAT_LOCK_KEY = key
    yield key
    redis.Redis.from_url(settings.REDIS_URL).delete(key)


def lock(key: str, name: str, ttl: float = 15) -> RedisLeaderLock:
    return RedisLeaderLock(url=settings.REDIS_URL, key=key, identity=name, ttl_seconds=ttl)


def test_only_one_holder_renews_and_releases_the_lock(lock_key):
    first, second = lock(lock_key, "first"), lock(lock_key, "second")

    assert first.acquire() is True
    assert second.acquire() is False
    assert second.renew() is False  # a standby cannot extend the leader's lock
    second.release()  # nor delete it
    assert leader_identity() == "first"
    assert first.renew() is True

    first.release()
    assert leader_identity() is None
    assert second.acquire() is True
    assert first.renew() is False  # the old leader cannot take the lock back by renewing
    assert leader_identity() == "second"


def test_an_expired_lock_goes_to_the_standby(lock_key):
    first, second = lock(lock_key, "first", ttl=0.3), lock(lock_key, "second", ttl=0.3)
    assert first.acquire() is True

    time.sleep(0.4)

    assert second.acquire() is True
    assert first.renew() is False


@pytest.mark.django_db(transaction=True)
def test_a_standby_scheduler_sends_nothing_until_the_leader_lets_go(lock_key):
    queue = f"linkflow-test-beat-{uuid.uuid4().hex}"
    fire = {"workflow_id": str(uuid.uuid4()), "node_id": "tick", "fired_at": None}
    heartbeat(queue=queue, task="executions.fire_schedule", kwargs=fire)
    client = redis.Redis.from_url(settings.REDIS_URL)
    leader = LeaderScheduler(app=app)
    standby = LeaderScheduler(app=app)
    try:
        leader.tick()
        assert is_leader() is True
        assert leader_identity() == leader.identity
        assert standby.tick() == settings.LINKFLOW_BEAT_STANDBY_SECONDS
        wait_for(lambda: leader.tick() is not None and client.llen(queue), what="a send")
        sent = client.llen(queue)
        deadline = time.monotonic() + 1.5  # the heartbeat falls due again meanwhile
        while time.monotonic() < deadline:
            assert standby.tick() == settings.LINKFLOW_BEAT_STANDBY_SECONDS
            time.sleep(0.1)
        assert client.llen(queue) == sent  # the standby sent nothing

        message = json.loads(client.lindex(queue, 0))
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert message["headers"]["task"] == "executions.fire_schedule"
        assert kwargs["node_id"] == "tick"
        # the scheduler stamped the send time into the "fired_at": None kwarg
        sent_at = datetime.fromisoformat(kwargs["fired_at"])
        assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 30
        leader.close()
        standby.tick()
        assert leader_identity() == standby.identity
        wait_for(lambda: standby.tick() is not None and client.llen(queue) > sent, what="sends")
    finally:
        leader.close()
        standby.close()
        client.delete(queue)
    assert leader_identity() is None  # a leader shutting down gives the lock up


def heartbeat(
    *, queue: str, task: str = "executions.requeue_stale", kwargs: dict[str, Any] | None = None
) -> PeriodicTask:
    """A one-second PeriodicTask sending ``task`` to ``queue`` (which nobody consumes)."""
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    return PeriodicTask.objects.create(
        name=HEARTBEAT,
        task=task,
        interval=every_second,
        queue=queue,
        kwargs=json.dumps(kwargs or {}),
    )


# --- two real `celery beat` processes -------------------------------------------------------


@pytest.fixture
def start_beat(
    transactional_db: None, lock_key: str, tmp_path: Path
) -> Iterator[Callable[[str], tuple[subprocess.Popen[bytes], Path]]]:
    """Start real `celery beat` processes with the leader scheduler on the test database."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "linkflow.settings",
            "DATABASE_URL": database_url(),
            "LINKFLOW_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "LINKFLOW_DB_POOL": "false",
            "LINKFLOW_BEAT_LOCK_KEY": lock_key,
            # The test counts beat's "Sending due task" lines, shown only at DEBUG.
            "LOG_LEVEL": "DEBUG",
            # SIGABRT then writes every thread's stack to the log (see stop_beat).
            "PYTHONFAULTHANDLER": "1",
        }
        log = tmp_path / f"{name}.log"
        command = [
            *(sys.executable, "-m", "celery", "-A", "linkflow", "beat"),
            *("--scheduler", "linkflow.scheduler:LeaderScheduler", "--loglevel", "DEBUG"),
            *("--schedule", str(tmp_path / f"{name}-schedule")),
        ]
        with open(log, "wb") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=out)
        started.append(proc)
        return proc, log

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop_beat(beat: subprocess.Popen[bytes], log: Path, *, timeout: float = 30) -> None:
    """SIGTERM the beat and wait for it; if it does not stop, fail with where it hangs."""
    beat.terminate()
    try:
        beat.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        beat.send_signal(signal.SIGABRT)  # faulthandler dumps the stacks, then it dies
        beat.wait(timeout=10)
        pytest.fail(f"the beat ignored SIGTERM for {timeout}s:\n{log.read_text()[-8000:]}")


def sends(log: Path) -> int:
    return len(re.findall(rf"Sending due task {HEARTBEAT}\b", log.read_text(errors="replace")))


def leader_pid() -> int | None:
    identity = leader_identity()
    return int(identity.split(":")[1]) if identity else None


def test_of_two_beats_one_sends_and_the_standby_takes_over_within_30s_of_a_kill(
    start_beat, lock_key
):
    queue = f"linkflow-test-beat-{uuid.uuid4().hex}"
    heartbeat(queue=queue)
    try:
        (one, one_log), (two, two_log) = start_beat("one"), start_beat("two")
        beats = {one.pid: (one, one_log), two.pid: (two, two_log)}
        first_pid = wait_for(leader_pid, timeout=20, what="a leader")
        (leader, leader_log), (standby, standby_log) = (
            beats[first_pid],
            next(b for pid, b in beats.items() if pid != first_pid),
        )
        wait_for(lambda: "is on standby" in standby_log.read_text(), timeout=20, what="standby")
        wait_for(lambda: sends(leader_log) >= 3, timeout=10, what="the leader's sends")

        assert sends(standby_log) == 0
        assert leader_pid() == leader.pid

        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=5)
        killed_at = time.monotonic()
        wait_for(lambda: leader_pid() == standby.pid, timeout=30, what="the standby to lead")
        wait_for(lambda: sends(standby_log) >= 1, timeout=10, what="the new leader's sends")
        assert time.monotonic() - killed_at < 30

        stop_beat(standby, standby_log)
        assert leader_identity() is None  # a clean stop gives the lock up at once
    finally:
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
