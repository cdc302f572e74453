"""trigger.nats: a core NATS subscription, or a JetStream durable pull consumer.

Core NATS keeps nothing: a message published while the listener is away is lost
(at-most-once). JetStream keeps the stream: each message is fetched, delivered and then
acknowledged; one not acknowledged within ``ack_wait_seconds`` (the listener died) comes
again with the same stream sequence, which with the stream's name is the execution's
dedupe key (the publisher's ``Nats-Msg-Id`` when it set one), so it makes one run.

The client is nats.publish's pinned one (the one checked address, no server-announced
addresses, no reconnects of its own: ``listen_forever`` reconnects, through the policy).
Deliveries run on one thread of their own: the host's storage is synchronous.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig

from linkflow.engine.nodes.nats_publish import _PinnedClient
from linkflow.engine.nodes.servers import checked_address

from . import POLL_SECONDS, Message, Session, Target, deliver_checked


class NatsListener:
    """Consumes one subject (or one stream's subject) for one trigger."""

    def __init__(self, target: Target) -> None:
        self._target = target
        params = target.params
        self._parse_json = bool(params.get("parse_json", True))
        suffix = hashlib.sha256(target.name.encode()).hexdigest()[:16]
        self.durable = str(params.get("durable") or f"linkflow-{suffix}")

    def listen(self, session: Session) -> None:
        """Consume until ``session.stop``; raises OSError or nats errors when the
        connection fails, NodeError when the policy refuses the host."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nats-deliver") as pool:
            asyncio.run(self._main(session, pool))

    async def _main(self, session: Session, pool: ThreadPoolExecutor) -> None:
        client = await self._connect()
        try:
            session.connected()
            if self._target.params.get("jetstream"):
                await self._jetstream(client, session, pool)
            else:
                await self._core(client, session, pool)
        finally:
            await client.close()

    async def _connect(self) -> _PinnedClient:
        fields = self._target.fields
        host = str(fields.get("host") or "").strip()
        port = int(fields.get("port") or 4222)
        address = checked_address(host, port, policy=self._target.policy)
        tls = fields.get("security") not in (None, "", "none", "disable")
        shown = f"[{address}]" if ":" in address else address
        options: dict[str, Any] = {
            "servers": [f"{'tls' if tls else 'nats'}://{shown}:{port}"],
            "dont_randomize": True,
            "allow_reconnect": False,
            "max_reconnect_attempts": 0,
            "connect_timeout": 10,
            "user": fields.get("username") or None,
            "password": fields.get("password") or None,
            "token": fields.get("token") or None,
        }
        if tls:
            options |= {"tls": ssl.create_default_context(), "tls_hostname": host}
        client = _PinnedClient()
        await client.connect(**options)
        return client

    async def _core(self, client: Any, session: Session, pool: ThreadPoolExecutor) -> None:
        params = self._target.params
        subscription = await client.subscribe(
            str(params["subject"]), queue=str(params.get("queue_group") or "")
        )
        while not session.stop.is_set():
            _alive(client)
            try:
                message = await subscription.next_msg(timeout=POLL_SECONDS)
            except nats.errors.TimeoutError:
                continue
            await self._deliver(session, pool, message, dedupe_key=None)

    async def _jetstream(self, client: Any, session: Session, pool: ThreadPoolExecutor) -> None:
        params = self._target.params
        stream = str(params["stream"])
        consumer = await client.jetstream().pull_subscribe(
            str(params["subject"]),
            durable=self.durable,
            stream=stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=float(params.get("ack_wait_seconds", 30)),
                max_ack_pending=1,
            ),
        )
        while not session.stop.is_set():
            _alive(client)
            try:
                messages = await consumer.fetch(1, timeout=POLL_SECONDS)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                sequence = message.metadata.sequence.stream
                identity = (message.headers or {}).get("Nats-Msg-Id") or f"{stream}:{sequence}"
                await self._deliver(session, pool, message, dedupe_key=f"nats:{identity}")
                await message.ack()

    async def _deliver(
        self, session: Session, pool: ThreadPoolExecutor, message: Any, *, dedupe_key: str | None
    ) -> None:
        def build(value: Any) -> Message:
            item: dict[str, Any] = {
                "subject": message.subject,
                "data": value,
                "headers": dict(message.headers or {}),
            }
            if dedupe_key is not None:
                item["stream_sequence"] = message.metadata.sequence.stream
            return Message(item=item, dedupe_key=dedupe_key)

        await asyncio.get_running_loop().run_in_executor(
            pool,
            lambda: deliver_checked(
                session, body=message.data, parse_json=self._parse_json, build=build
            ),
        )


def _alive(client: Any) -> None:
    # With reconnects off the client just closes when the server goes: say so, so that
    # listen_forever reconnects instead of waiting on a dead subscription.
    if client.is_closed or not client.is_connected:
        raise ConnectionError("the NATS connection was closed")
