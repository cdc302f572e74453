"""Publishing in batches and fanning out to many subscribers: numbering, frames, slow readers."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from executions.feeds import fanout, log, publisher, vocabulary

from ..conftest import require_services

# on_commit callbacks only run in a real transaction.
committing = pytest.mark.django_db(transaction=True)


def node_events(execution: str, workspace: str, count: int, first: int = 0) -> list[dict]:
    return [
        vocabulary.event_build(
            type=vocabulary.NODE_STARTED,
            execution_id=execution,
            workspace_id=workspace,
            workflow_id="w",
            node_id=f"n{first + i}",
        )
        for i in range(count)
    ]


def publish(batch: list[dict]) -> None:
    publisher.events_publish_on_commit(batch)
    assert publisher.events_flush()


class Reader:
    """A subscriber's socket: records frames, or (``stuck``) never finishes a send."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.frames: list[str] = []
        self.closed_with: int | None = None
        self.stuck = stuck
        self.got = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.frames.append(text)
        self.got.set()

    async def close(self, code: int) -> None:
        self.closed_with = code

    def events(self) -> list[dict]:
        decoded = [json.loads(frame) for frame in self.frames]
        return [e for frame in decoded for e in (frame if isinstance(frame, list) else [frame])]


@committing
def test_one_batch_numbers_each_execution_in_order_and_logs_it():
    require_services()
    a, b, workspace = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    # Interleaved executions in one batch (one pipelined round trip).
    batch = node_events(a, workspace, 2) + node_events(b, workspace, 1)
    publish(batch + node_events(a, workspace, 1, first=2))

    last_a, logged_a = log.events_after(execution_id=a, after=0)
    last_b, logged_b = log.events_after(execution_id=b, after=0)
    assert last_a == 3
    assert [(e["seq"], e["node_id"]) for e in logged_a] == [(1, "n0"), (2, "n1"), (3, "n2")]
    assert (last_b, [(e["seq"], e["node_id"]) for e in logged_b]) == (1, [(1, "n0")])
    assert all(isinstance(e["published_at"], float) for e in logged_a)


@committing
def test_a_burst_reaches_every_subscriber_in_few_frames_and_a_stuck_one_is_dropped(settings):
    require_services()
    settings.LINKFLOW_WS_SEND_BUFFER = 10
    execution, workspace = str(uuid.uuid4()), str(uuid.uuid4())
    group = vocabulary.workspace_group(workspace)

    async def scenario():
        hub = fanout.hub()
        readers = [Reader() for _ in range(3)]
        stuck = Reader(stuck=True)
        subscribers = [fanout.Subscriber(send=r.send, close=r.close) for r in readers]
        slow = fanout.Subscriber(send=stuck.send, close=stuck.close)
        for subscriber in [*subscribers, slow]:
            await hub.join(group, subscriber)
            subscriber.start()
        # 25 events in 5 submissions: the stuck reader passes 10 waiting events and goes.
        for i in range(5):
            await sync_to_async(publish)(node_events(execution, workspace, 5, 5 * i))
        while sum(len(r.events()) for r in readers) < 75:
            await asyncio.wait_for(readers[0].got.wait(), 5)
            readers[0].got.clear()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        for subscriber in subscribers:
            subscriber.stop()
            hub.leave(group, subscriber)
        return readers, stuck, hub.groups.get(group)

    readers, stuck, left = async_to_sync(scenario)()
    for reader in readers:
        assert [e["seq"] for e in reader.events()] == list(range(1, 26))
        assert len(reader.frames) <= 5  # one frame per published batch at most
    assert json.loads(readers[0].frames[0])[0]["node_id"] == "n0"
    assert stuck.closed_with == fanout.CLOSE_TOO_SLOW
    assert stuck.frames == []
    assert left is None  # nobody left in the group


def test_the_execution_feed_skips_what_its_first_messages_covered():
    async def scenario():
        reader = Reader()
        subscriber = fanout.Subscriber(send=reader.send, close=reader.close, ordered=True)
        # Live events that arrived while the first messages were being read are held...
        subscriber.offer(['{"seq":2,"a":1}', '{"seq":3,"a":1}'])
        subscriber.start(first=['{"type":"snapshot","seq":2}'], floor=2)
        subscriber.offer(['{"seq":3,"a":1}', '{"seq":5,"a":1}', '{"seq":4,"a":1}'])
        await asyncio.sleep(0.05)
        subscriber.stop()
        return reader

    reader = async_to_sync(scenario)()
    # ...and only what the snapshot did not cover goes out, each number once.
    assert [e["seq"] for e in reader.events()] == [2, 3, 5, 4]
    assert reader.events()[0]["type"] == "snapshot"


@committing
def test_embedded_mode_delivers_on_the_web_servers_loop(settings):
    # No Redis: sequence and log in this process, texts handed to the subscribers' loop.
    settings.REDIS_URL = ""
    execution, workspace = str(uuid.uuid4()), str(uuid.uuid4())

    async def scenario():
        log.bind_loop(asyncio.get_running_loop())
        reader = Reader()
        subscriber = fanout.Subscriber(send=reader.send, close=reader.close, ordered=True)
        await fanout.hub().join(vocabulary.execution_group(execution), subscriber)
        subscriber.start()
        await sync_to_async(publish)(node_events(execution, workspace, 3))
        await asyncio.wait_for(reader.got.wait(), 5)
        subscriber.stop()
        return reader

    reader = async_to_sync(scenario)()
    assert [(e["seq"], e["node_id"]) for e in reader.events()] == [(1, "n0"), (2, "n1"), (3, "n2")]
    last, missed = log.events_after(execution_id=execution, after=1)
    assert (last, [e["seq"] for e in missed]) == (3, [2, 3])
