"""notify.webhook: deliver each item as a signed event to a URL.

The request carries ``X-LinkFlow-Signature`` (the scheme LinkFlow's own webhooks accept,
see linkflow/engine/signing.py), the event name and a delivery id that stays the same
across retries, so a receiver can drop a repeat. A delivery that fails (no answer, or an
answer that is not 2xx) fails the node: the engine's retry then parks the execution with
back-off (no worker sleeps), and after the last attempt ``on_error: "error_output"``
sends the undelivered items to the ``error`` port: the dead letters, each with its error.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from linkflow.engine.errors import NodeError
from linkflow.engine.net import ResponseTooLarge, default_client, read_capped
from linkflow.engine.nodes.servers import node_timeout
from linkflow.engine.registry import Items, NodeType
from linkflow.engine.signing import SIGNATURE_HEADER, signature_header

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

MAX_EVENT_BYTES = 1_048_576
# Only the start of a receiver's answer is kept, for the run view.
MAX_ANSWER_BYTES = 4096


class WebhookNotify(NodeType):
    """Delivers one signed event per item to a URL."""

    type = "notify.webhook"
    # The signing key: an hmac_key, or a webhook_auth secret (see _secret).
    credential_types = ("hmac_key", "webhook_auth")
    credential_optional = True  # no credential: deliveries go unsigned
    label = "Webhook delivery"
    description = (
        "POSTs each item as a JSON event to a URL, signed with HMAC-SHA256 (hmac_key "
        "credential); set retry for back-off and on_error 'error_output' for dead letters."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "url": {
                "description": "http:// or https:// URL of the receiver.",
                "type": "string",
                "minLength": 1,
            },
            "event": {
                "description": "Event name, sent as X-LinkFlow-Event.",
                "type": "string",
                "default": "event",
            },
            "body": {"description": "The event. Default: the item."},
            "headers": {"type": ["object", "string"]},
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """One item per delivered event: {"delivery", "status", "attempt", "response"}.
        Raises NodeError, naming the item, at the first event the receiver did not take
        (a refused address, no answer in time, or a status that is not 2xx)."""
        self._secret = _secret(ctx) if ctx.credential_id else None
        self._http = ctx.run.http_client or default_client()
        return {"main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        url = str(ctx.param("url", item_index=index))
        if not url.startswith(("http://", "https://")):
            raise NodeError(
                "'url' must be an http:// or https:// URL.", param="params.url", item=index
            )
        body = json.dumps(ctx.param("body", item_index=index, default=item)).encode()
        if len(body) > MAX_EVENT_BYTES:
            raise NodeError(f"The event is larger than {MAX_EVENT_BYTES} bytes.", item=index)
        delivery = f"{ctx.run.execution.get('id')}:{ctx.node_id}:{index}"
        headers = {
            str(k): str(v)
            for k, v in (ctx.param("headers", item_index=index, default=None) or {}).items()
        }
        headers |= {
            "Content-Type": "application/json",
            "User-Agent": "LinkFlow-Webhooks",
            "X-LinkFlow-Event": str(ctx.param("event", item_index=index, default="event")),
            "X-LinkFlow-Delivery": delivery,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature_header(
                secret=self._secret, timestamp=int(time.time()), body=body
            )
        status, answer = _post(
            self._http, url, headers=headers, body=body, timeout=node_timeout(ctx)
        )
        if not 200 <= status < 300:
            raise NodeError(f"The receiver answered {status} to delivery {delivery}.", item=index)
        return [
            {"delivery": delivery, "status": status, "attempt": ctx.attempt, "response": answer}
        ]


def _secret(ctx: NodeContext) -> str:
    fields = ctx.credential()
    secret = fields.get("key") or fields.get("secret")  # hmac_key, or a webhook_auth secret
    if not isinstance(secret, str) or not secret:
        raise NodeError("The credential has no signing key.", param="credential")
    return secret


def _post(
    client: httpx.Client, url: str, *, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    try:
        with client.stream("POST", url, headers=headers, content=body, timeout=timeout) as response:
            try:
                text = read_capped(response, limit=MAX_ANSWER_BYTES, deadline=deadline)
            except ResponseTooLarge:
                text = b""  # a long answer is still an answer; its status decides
            return response.status_code, text.decode("utf-8", errors="replace")
    except httpx.HTTPError as error:
        raise NodeError(
            f"Delivery to the receiver failed: {type(error).__name__}: {error}"
        ) from None
