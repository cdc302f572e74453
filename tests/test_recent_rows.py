"""The few-seconds cache behind the trigger and user lookups (linkflow/core/recent_rows.py)."""

import pytest

from linkflow.core.recent_rows import MAX_ENTRIES, RecentRows


@pytest.fixture
def now() -> list[float]:
    return [100.0]


@pytest.fixture
def rows(now: list[float]) -> RecentRows[str]:
    cache = RecentRows[str](2.0)
    cache.clock = lambda: now[0]
    return cache


def test_an_entry_answers_until_it_ages_out(rows, now):
    rows.put("k", "v", generation=rows.generation())
    assert rows.get("k") == "v"

    now[0] += 2.1

    assert rows.get("k") is None


@pytest.mark.django_db
def test_a_load_that_raced_a_forget_does_not_put_back_what_it_read(rows):
    # given a load that began before a change was forgotten
    generation = rows.generation()
    rows.forget()
    # when it finishes and stores what it read before the change
    rows.put("k", "stale", generation=generation)
    # then nobody is answered with it
    assert rows.get("k") is None


@pytest.mark.django_db
def test_forget_drops_every_entry(rows):
    rows.put("a", "1", generation=rows.generation())
    rows.put("b", "2", generation=rows.generation())

    rows.forget()

    assert (rows.get("a"), rows.get("b")) == (None, None)


def test_the_cache_starts_afresh_past_its_size(rows):
    for n in range(MAX_ENTRIES):
        rows.put(n, str(n), generation=rows.generation())
    rows.put("one more", "x", generation=rows.generation())

    assert rows.get(0) is None
    assert rows.get("one more") == "x"
