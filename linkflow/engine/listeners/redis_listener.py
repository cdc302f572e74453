"""trigger.redis: a list consumed with BLMOVE into a processing list, or a pub/sub channel.

A list value is moved (atomically, by Redis) from the list to the trigger's processing
list, delivered, and only then removed from the processing list; on (re)connect the
values left there by a listener that died between the move and the removal are
delivered first. So a value is never lost (at-least-once); one that died between its
run being stored and its removal runs twice, since a list value has no id to dedupe on.
A channel has no memory: a message published while the listener is disconnected is lost
(at-most-once). Sockets come from redis.command's guarded connection class.
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis

from linkflow.engine.nodes.redis_command import _connection_class

from . import POLL_SECONDS, Message, Session, Target, deliver_checked

# The most values of a processing list replayed on one reconnect (the rest next time).
MAX_REPLAY = 1000


class RedisListener:
    """Consumes a Redis list or channel for one trigger."""

    def __init__(self, target: Target) -> None:
        self._target = target
        params = target.params
        self._key = str(params["key"])
        self._parse_json = bool(params.get("parse_json", True))
        suffix = hashlib.sha256(target.name.encode()).hexdigest()[:12]
        self.processing = str(params.get("processing_list") or f"{self._key}:processing:{suffix}")

    def listen(self, session: Session) -> None:
        """Consume until ``session.stop``; raises redis.RedisError when the connection
        fails (or is refused by the address policy: an OSError inside it)."""
        fields = self._target.fields
        pool = redis.ConnectionPool(
            connection_class=_connection_class(
                self._target.policy, tls=fields.get("security") == "tls"
            ),
            host=str(fields.get("host") or ""),
            port=int(fields.get("port") or 6379),
            db=int(fields.get("database") or 0),
            username=fields.get("username") or None,
            password=fields.get("password") or None,
            # Longer than a blocking read, so only a dead server times out.
            socket_timeout=POLL_SECONDS + 10,
            socket_connect_timeout=10,
            decode_responses=False,
            max_connections=2,
        )
        # Any: redis-py's command types assume decoded replies; these are bytes.
        client: Any = redis.Redis(connection_pool=pool, protocol=2)
        try:
            client.ping()
            session.connected()
            if self._target.params.get("mode", "list") == "channel":
                self._channel(client, session)
            else:
                self._list(client, session)
        finally:
            pool.disconnect()

    def _list(self, client: Any, session: Session) -> None:
        # Left over from a listener that stopped before removing them: oldest first.
        for value in reversed(client.lrange(self.processing, -MAX_REPLAY, -1)):
            if session.stop.is_set():
                return
            self._one(client, session, value)
        while not session.stop.is_set():
            value = client.blmove(self._key, self.processing, int(POLL_SECONDS), "RIGHT", "LEFT")
            if value is not None:
                self._one(client, session, value)

    def _one(self, client: Any, session: Session, value: bytes) -> None:
        deliver_checked(
            session,
            body=value,
            parse_json=self._parse_json,
            build=lambda v: Message(item={"key": self._key, "message": v}),
        )
        client.lrem(self.processing, 1, value)

    def _channel(self, client: Any, session: Session) -> None:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._key)
            while not session.stop.is_set():
                message: Any = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None and message.get("type") == "message":
                    deliver_checked(
                        session,
                        body=message["data"],
                        parse_json=self._parse_json,
                        build=lambda v: Message(item={"channel": self._key, "message": v}),
                    )
        finally:
            pubsub.close()
