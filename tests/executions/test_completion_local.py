"""The embedded mode's completion announcements: each waiting sync-webhook caller gets its
own execution's outcome, announced before or while it waits, and wakes for nothing else."""

import threading
import time
from typing import Any

import pytest

from executions.feeds import completion
from executions.feeds.completion import completion_publish, completion_wait


@pytest.fixture(autouse=True)
def embedded(settings: Any) -> Any:
    settings.REDIS_URL = ""  # the in-process path, whatever the suite runs on
    completion._local.clear()
    completion._local_waiting.clear()
    yield
    completion._local.clear()
    completion._local_waiting.clear()


def waiters(ids: list[str], timeout: float = 10) -> tuple[dict[str, Any], list[threading.Thread]]:
    got: dict[str, Any] = {}

    def wait(execution_id: str) -> None:
        got[execution_id] = completion_wait(execution_id=execution_id, timeout=timeout)

    threads = [threading.Thread(target=wait, args=(i,), daemon=True) for i in ids]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(completion._local_waiting) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(completion._local_waiting) == sorted(ids)
    return got, threads


def test_each_waiting_caller_gets_its_own_outcome_in_any_order():
    ids = [f"e{n}" for n in range(20)]
    got, threads = waiters(ids)

    for execution_id in reversed(ids):
        completion_publish(execution_id=execution_id, outcome={"for": execution_id})
    for thread in threads:
        thread.join(timeout=5)

    assert got == {i: {"for": i} for i in ids}
    assert completion._local == {} and completion._local_waiting == {}  # nothing left behind


def test_an_announcement_wakes_only_its_own_caller():
    got, threads = waiters(["mine", "other", "third"])
    other, third = completion._local_waiting["other"], completion._local_waiting["third"]

    completion_publish(execution_id="mine", outcome={"status": "succeeded"})
    threads[0].join(timeout=5)

    assert got == {"mine": {"status": "succeeded"}}
    assert not other.is_set() and not third.is_set()
    assert threads[1].is_alive() and threads[2].is_alive()
    completion_publish(execution_id="other", outcome={})
    completion_publish(execution_id="third", outcome={})
    for thread in threads:
        thread.join(timeout=5)


def test_an_outcome_announced_before_the_caller_waits_is_kept_for_it():
    completion_publish(execution_id="early", outcome={"status": "failed"})

    started = time.monotonic()
    assert completion_wait(execution_id="early", timeout=10) == {"status": "failed"}
    assert time.monotonic() - started < 5  # it did not wait for the timeout
    assert completion_wait(execution_id="early", timeout=0.05) is None  # only one receives it


def test_a_wait_that_times_out_answers_none_and_leaves_nothing_behind():
    assert completion_wait(execution_id="never", timeout=0.05) is None
    assert completion._local_waiting == {}


def test_outcomes_nobody_collected_expire_and_fresh_ones_stay():
    stale_at = time.monotonic() - completion._TTL_SECONDS - 1
    completion._local["old-1"] = (stale_at, {})
    completion._local["old-2"] = (stale_at, {})
    completion_publish(execution_id="recent", outcome={})

    completion_publish(execution_id="newest", outcome={})

    assert list(completion._local) == ["recent", "newest"]
