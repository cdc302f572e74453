"""The web side of the progress feeds: one process's subscribers, fed from one listener.

Each web process holds, per event loop, a hub: the feed groups (execution.<id>,
workspace.<id>.executions) its WebSocket subscribers follow. With Redis, one pub/sub
connection per hub listens to every group's channel (a pattern subscription); a
published message is split into its events' JSON texts once and handed to the local
subscribers of its group, whatever their number. Embedded, the publisher thread hands
the texts to the hub directly (feeds/log.py).

Wire format of a published message (written by the Lua script of feeds/log.py): the events'
JSON texts joined by newlines, each beginning with ``{"seq":<n>,`` (JSON never holds a
raw newline), so nothing is parsed or serialised again per process or per subscriber.

Each subscriber has a bounded list of texts waiting and one task that sends them: every
frame carries what has piled up since the last one, one event as an object or several as
an array. Publishing never waits for a socket; a subscriber whose backlog passes
``LINKFLOW_WS_SEND_BUFFER`` events is dropped and closed with 4429, and resumes with
``?after=<seq>`` (execution feed) or a fresh snapshot.
"""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable

import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "linkflow:feed:"
# Close codes: the subscriber read too slowly; the process lost its Redis subscription
# (1012, "service restart": reconnect, with ``?after`` where the feed has one).
CLOSE_TOO_SLOW = 4429
CLOSE_FEED_LOST = 1012
_SEQ_START = len('{"seq":')


def channel_for(group: str) -> str:
    return CHANNEL_PREFIX + group


def seq_of(text: str) -> int:
    """The ``seq`` of a published event's JSON text (its first field)."""
    return int(text[_SEQ_START : text.index(",", _SEQ_START)])


def frame_of(texts: list[str]) -> str:
    """One WebSocket frame: a single event as is, several as a JSON array."""
    return texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]"


class Subscriber:
    """One WebSocket's waiting events and the task that sends them, in order.

    With ``ordered`` (the execution feed) events numbered at or below what the first
    messages covered, or already sent, are skipped: ``floor`` is the number up to which
    everything went out, ``ahead`` what went out above it (two publishers may cross).
    """

    def __init__(
        self,
        *,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int], Awaitable[None]],
        ordered: bool = False,
    ) -> None:
        self.send = send
        self.close = close
        self.ordered = ordered
        self.limit = settings.LINKFLOW_WS_SEND_BUFFER
        self.coalesce = settings.LINKFLOW_WS_COALESCE_SECONDS
        self.waiting: list[str] = []
        self.wake = asyncio.Event()
        self.floor = 0
        self.ahead: set[int] = set()
        self.task: asyncio.Task[None] | None = None
        self.dropped = False

    def start(self, *, first: Iterable[str] = (), floor: int = 0) -> None:
        """Send the ``first`` frames, then what arrives live (held until now)."""
        self.floor = floor
        self.task = asyncio.get_running_loop().create_task(self._run(list(first)))

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def offer(self, texts: list[str]) -> bool:
        """Queue the texts; False (nothing queued) when the backlog would pass the limit."""
        if len(self.waiting) + len(texts) > self.limit:
            return False
        self.waiting.extend(texts)
        self.wake.set()
        return True

    def drop(self, code: int) -> None:
        """Stop sending and close the socket, without waiting for it."""
        if self.dropped:
            return
        self.dropped = True
        self.stop()
        self.waiting = []
        asyncio.get_running_loop().create_task(self._close(code))

    async def _close(self, code: int) -> None:
        try:
            await self.close(code)
        except Exception:  # the socket is already gone
            logger.debug("closing a dropped subscriber failed", exc_info=True)

    async def _run(self, first: list[str]) -> None:
        try:
            for frame in first:
                await self.send(frame)
            while True:
                await self.wake.wait()
                if self.coalesce:
                    await asyncio.sleep(self.coalesce)
                self.wake.clear()
                texts, self.waiting = self.waiting, []
                if self.ordered:
                    texts = [text for text in texts if self._unsent(seq_of(text))]
                if texts:
                    await self.send(frame_of(texts))
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away; disconnect() cleans up
            logger.debug("sending to a subscriber failed", exc_info=True)

    def _unsent(self, seq: int) -> bool:
        if seq <= self.floor or seq in self.ahead:
            return False
        self.ahead.add(seq)
        while self.floor + 1 in self.ahead:
            self.floor += 1
            self.ahead.discard(self.floor)
        return True


class Hub:
    """The subscribers of one event loop, by group, and (with Redis) their listener."""

    def __init__(self) -> None:
        self.groups: dict[str, set[Subscriber]] = {}
        self.listener: asyncio.Task[None] | None = None
        self.listening: asyncio.Future[None] | None = None

    async def join(self, group: str, subscriber: Subscriber) -> None:
        """Follow the group; every event published once this returns reaches the subscriber."""
        self.groups.setdefault(group, set()).add(subscriber)
        if settings.REDIS_URL:
            try:
                await self._listening()
            except BaseException:
                self.leave(group, subscriber)
                raise

    def leave(self, group: str, subscriber: Subscriber) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.discard(subscriber)
            if not members:
                del self.groups[group]

    def deliver(self, group: str, texts: list[str]) -> None:
        """Hand the texts to every local subscriber of the group; drop those too far behind."""
        members = self.groups.get(group)
        if not members:
            return
        for subscriber in list(members):
            if not subscriber.offer(texts):
                logger.warning("dropped a WebSocket subscriber of %s: too far behind", group)
                self.leave(group, subscriber)
                subscriber.drop(CLOSE_TOO_SLOW)

    async def _listening(self) -> None:
        if self.listening is None:
            self.listening = asyncio.get_running_loop().create_future()
            self.listener = asyncio.get_running_loop().create_task(self._listen(self.listening))
        await asyncio.wait_for(asyncio.shield(self.listening), timeout=10)

    async def _listen(self, listening: asyncio.Future[None]) -> None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    # Confirmed: Redis forwards everything published from now on.
                    if not listening.done():
                        listening.set_result(None)
                elif message["type"] == "pmessage":
                    group = message["channel"][len(CHANNEL_PREFIX) :]
                    if group in self.groups:
                        self.deliver(group, message["data"].split("\n"))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.exception("lost the progress feed's Redis subscription")
            if not listening.done():
                listening.set_exception(error)
            self.listening = None  # the next subscriber starts a new listener
            self._drop_all(CLOSE_FEED_LOST)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            await client.aclose()

    def _drop_all(self, code: int) -> None:
        members = [s for group in self.groups.values() for s in group]
        self.groups.clear()
        for subscriber in members:
            subscriber.drop(code)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub(loop: asyncio.AbstractEventLoop | None = None) -> Hub:
    """This event loop's hub (each loop has its own subscribers and connections)."""
    loop = loop or asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub()
    return found


def deliver_on(loop: asyncio.AbstractEventLoop, groups: Iterable[str], texts: list[str]) -> None:
    """Embedded mode: from the publisher thread, hand the texts to the loop's subscribers."""
    groups = list(groups)

    def deliver() -> None:
        target = hub(loop)
        for group in groups:
            target.deliver(group, texts)

    if not loop.is_closed():
        loop.call_soon_threadsafe(deliver)
