"""Notification nodes: email through the host's mailer, Slack through its web API.

Both send one message per input item, with that item's evaluated params, and neither is
pure: a message sent cannot be unsent. A retry sends only the items that failed; after a
crash, the items since the last checkpoint may be sent again (docs/nodes.md, "Retries").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from linkflow.engine.errors import NodeError
from linkflow.engine.file_items import file_read
from linkflow.engine.net import BlockedAddress, ResponseTooLarge, default_client, read_capped
from linkflow.engine.nodes.http import redacted
from linkflow.engine.registry import PER_ITEM, Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import Mailer, NodeContext

SMTP_SECURITY = ("none", "starttls", "tls")
# A credential without "security" gets STARTTLS: failing loudly against a plain server
# beats sending a password in clear text.
DEFAULT_SMTP_SECURITY = "starttls"
# Per message when neither the node nor the execution sets a timeout.
SMTP_TIMEOUT_SECONDS = 30.0
# All attachments of one mail together (SMTP servers refuse much bigger messages anyway).
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
SLACK_API_BASE_URL = "https://slack.com/api"
SLACK_TIMEOUT_SECONDS = 30.0
# Slack's answers are tiny; anything bigger is not Slack.
MAX_SLACK_RESPONSE_BYTES = 1024 * 1024
_TEXT = {"type": "string", "minLength": 1}
_ADDRESSES = or_expression({"anyOf": [_TEXT, {"type": "array", "items": _TEXT, "minItems": 1}]})


class Email(NodeType):
    """Sends an email per item through the SMTP server of an "smtp" credential."""

    type = "notify.email"
    credential_types = ("smtp",)
    label = "Send email"
    description = "Sends an email for each item through an SMTP server."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "to": {**_ADDRESSES, "description": "An address, a comma-separated list or a list."},
            "cc": _ADDRESSES,
            "subject": _TEXT,
            "text": {"type": "string", "description": "The plain-text body."},
            "html": {"type": "string", "description": "An HTML alternative of the body."},
            "from": {**_TEXT, "description": "The sender; by default the credential's."},
            "attachments": {
                "description": (
                    'File items to attach: a file reference ({"$file": ...}), a list of '
                    "them, or an expression giving them, e.g. '{{ json.body }}'."
                ),
                "anyOf": [{"type": "object"}, {"type": "array"}, {"type": "string"}],
            },
        },
        "required": ["to", "subject", "text"],
        "additionalProperties": False,
    }

    item_mode = PER_ITEM

    def setup(self, ctx: NodeContext) -> None:
        """Check the mailer and the credential once; NodeError when either is unusable."""
        if ctx.run.mailer is None:
            raise NodeError("Sending email is not available here.")
        self._mailer: Mailer = ctx.run.mailer
        self._smtp = _smtp(ctx.credential())

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """Send the item's mail and emit ``{"sent": true, "to": [...]}``.

        The mail must go out within the node's time left (``timeout_seconds``, else the
        execution's, else 30 s). Raises NodeError when a parameter is invalid (an address
        without "@", a line break in the subject…), there is no sender, the host's address
        policy refuses the server, the server does not answer in time, or the mailer fails;
        the SMTP password never appears in a message.
        """
        with redacted((str(self._smtp.get("password") or ""),)):
            return [_send_mail(ctx, self._mailer, self._smtp, index)]


def _smtp(fields: dict[str, Any]) -> dict[str, Any]:
    """The credential's fields checked and normalised for Mailer.send (without "type")."""
    if fields.get("type") != "smtp":
        raise NodeError("This node needs an SMTP credential.", param="credential")
    host, port = fields.get("host"), fields.get("port")
    if not isinstance(host, str) or not host.strip():
        raise NodeError("The SMTP credential has no host.", param="credential")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise NodeError("The SMTP credential's port must be from 1 to 65535.", param="credential")
    security = fields.get("security") or DEFAULT_SMTP_SECURITY
    if security not in SMTP_SECURITY:
        raise NodeError(
            "The SMTP credential's security must be none, starttls or tls.", param="credential"
        )
    rest = {key: value for key, value in fields.items() if key != "type"}
    return {**rest, "host": host.strip(), "port": port, "security": security}


def _send_mail(
    ctx: NodeContext, mailer: Mailer, smtp: dict[str, Any], index: int
) -> dict[str, Any]:
    message = _message(ctx, index, default_sender=smtp.get("from"))
    # Per item, from what is left of the node's time: the whole node stays within it.
    timeout = ctx.time_left(default=SMTP_TIMEOUT_SECONDS) or SMTP_TIMEOUT_SECONDS
    where = f"{smtp['host']}:{smtp['port']}"
    try:
        mailer.send(smtp=smtp, message=message, timeout=timeout)
    except NodeError:
        raise
    except BlockedAddress as error:
        raise NodeError(f"Could not send email through {where}: {error}") from error
    except TimeoutError as error:
        late = f"The SMTP server {where} did not answer within {timeout:.3g} s."
        raise NodeError(late) from error
    except Exception as error:
        raise NodeError(f"Could not send email through {where}: {error}") from error
    return {"sent": True, "to": message["to"]}


def _message(ctx: NodeContext, index: int, *, default_sender: Any) -> dict[str, Any]:
    def param(name: str, default: Any = None) -> Any:
        return ctx.param(name, item_index=index, default=default)

    sender = _addresses(param("from", default_sender), "from")
    if len(sender) != 1:
        raise NodeError(
            "Give one sender in 'from' or in the SMTP credential's 'from'.", param="params.from"
        )
    to = _addresses(ctx.param("to", item_index=index), "to")
    if not to:
        raise NodeError("Parameter 'to' needs at least one address.", param="params.to")
    message: dict[str, Any] = {
        "from": sender[0],
        "to": to,
        "subject": _single_line(ctx.param("subject", item_index=index), "subject"),
        "text": _string(ctx.param("text", item_index=index), "text"),
    }
    cc = _addresses(param("cc"), "cc")
    if cc:
        message["cc"] = cc
    html = param("html")
    if html is not None:
        message["html"] = _string(html, "html")
    attachments = _attachments(ctx, param("attachments"), index)
    if attachments:
        message["attachments"] = attachments
    return message


def _attachments(ctx: NodeContext, value: Any, index: int) -> list[dict[str, Any]]:
    """The files ``value`` names as ``{"name", "content", "content_type"}``, read through
    the host's file store (so only this execution's files); NodeError naming
    ``params.attachments`` for anything else or past MAX_ATTACHMENT_BYTES in all."""
    if value is None or value == []:
        return []
    refs = value if isinstance(value, list) else [value]
    attached = []
    for ref in refs:
        read = file_read(
            ctx, ref, limit=MAX_ATTACHMENT_BYTES, param="params.attachments", item=index
        )
        attached.append(
            {"name": read.name, "content": read.content, "content_type": read.content_type}
        )
    if sum(len(entry["content"]) for entry in attached) > MAX_ATTACHMENT_BYTES:
        raise NodeError(
            f"The attachments add up to more than {MAX_ATTACHMENT_BYTES} bytes.",
            param="params.attachments",
            item=index,
        )
    return attached


def _addresses(value: Any, name: str) -> list[str]:
    """``value`` (None, "a@x, Name <b@y>" or a list of such strings) as a list of single
    addresses; NodeError for anything that is not an address."""
    if value is None or value == []:
        return []
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise NodeError(
            f"Parameter '{name}' must be an address or a list of addresses.", param=f"params.{name}"
        )
    for entry in entries:
        _single_line(entry, name)  # a line break would let a value add its own headers
    parsed = getaddresses(entries)
    if not parsed or any("@" not in address for _, address in parsed):
        raise NodeError(f"Parameter '{name}' holds an invalid address.", param=f"params.{name}")
    return [_format_address(name, address) for name, address in parsed]


def _format_address(name: str, address: str) -> str:
    # Not email.utils.formataddr: it MIME-encodes non-ASCII names, and encoding headers is
    # the mailer's job, so the name stays readable text here.
    if not name:
        return address
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise NodeError(f"Parameter '{name}' must be a string.", param=f"params.{name}")
    return value


def _single_line(value: Any, name: str) -> str:
    text = _string(value, name)
    if any(ord(c) < 32 and c != "\t" for c in text):
        raise NodeError(f"Parameter '{name}' must not contain line breaks.", param=f"params.{name}")
    return text


# Slack


@dataclass(frozen=True, slots=True)
class _SlackTarget:
    url: str
    headers: dict[str, str]
    via_api: bool  # chat.postMessage with a bot token, else an incoming webhook
    secret: str


class Slack(NodeType):
    """Posts a message per item to Slack, through an incoming webhook or the web API."""

    type = "notify.slack"
    credential_types = ("slack",)
    label = "Send Slack message"
    description = "Posts a message for each item to a Slack channel."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "text": _TEXT,
            "channel": {**_TEXT, "description": "Channel id or name; needed with a bot token."},
            "blocks": or_expression(
                {"type": "array", "items": {"type": "object"}, "description": "Block Kit"}
            ),
        },
        "required": ["text"],
        "additionalProperties": False,
    }

    item_mode = PER_ITEM

    def setup(self, ctx: NodeContext) -> None:
        """Read the credential once; NodeError when it is not a usable Slack one."""
        self._target = _slack_target(ctx.credential())
        self._client = ctx.run.http_client or default_client()

    def execute_item(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        """Post the item's message; emit ``{"ok": true}`` plus, through the web API,
        the ``channel`` and ``ts`` Slack answered.

        Uses the host's ``http_client``, else net.default_client() (default deny). Raises
        NodeError for a credential that is neither {webhook_url} nor {token}, a missing
        channel with a token, invalid blocks, a refused address, a connection failure or
        timeout, an HTTP error, or an API answer with ``"ok": false`` (its ``error`` is
        the message). Neither the token nor the webhook URL appears in a message.
        """
        with redacted((self._target.secret,)):
            return [_post(ctx, self._client, self._target, _payload(ctx, index, self._target))]


def _slack_target(fields: dict[str, Any]) -> _SlackTarget:
    if fields.get("type") != "slack":
        raise NodeError("This node needs a Slack credential.", param="credential")
    webhook_url, token = fields.get("webhook_url"), fields.get("token")
    if isinstance(webhook_url, str) and webhook_url.startswith(("https://", "http://")):
        return _SlackTarget(url=webhook_url, headers={}, via_api=False, secret=webhook_url)
    if isinstance(token, str) and token and token.isprintable() and token.isascii():
        base = str(fields.get("api_base_url") or SLACK_API_BASE_URL).rstrip("/")
        headers = {"Authorization": f"Bearer {token}"}
        return _SlackTarget(f"{base}/chat.postMessage", headers, via_api=True, secret=token)
    raise NodeError(
        "The Slack credential needs a webhook_url (http or https) or a bot token.",
        param="credential",
    )


def _payload(ctx: NodeContext, index: int, target: _SlackTarget) -> dict[str, Any]:
    payload: dict[str, Any] = {"text": _string(ctx.param("text", item_index=index), "text")}
    channel = ctx.param("channel", item_index=index, default=None)
    if channel is not None:
        payload["channel"] = _string(channel, "channel")
    elif target.via_api:
        raise NodeError(
            "Parameter 'channel' is needed to post with a bot token.", param="params.channel"
        )
    blocks = ctx.param("blocks", item_index=index, default=None)
    if blocks is not None:
        payload["blocks"] = _blocks(blocks)
    return payload


def _blocks(value: Any) -> list[dict[str, Any]]:
    # Block Kit Builder hands out JSON text, so a string holding the array is accepted too.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, list) or not all(isinstance(block, dict) for block in value):
        raise NodeError(
            "Parameter 'blocks' must be a list of Block Kit objects.", param="params.blocks"
        )
    return value


def _post(
    ctx: NodeContext, client: httpx.Client, target: _SlackTarget, payload: dict[str, Any]
) -> dict[str, Any]:
    timeout = ctx.time_left(default=SLACK_TIMEOUT_SECONDS) or SLACK_TIMEOUT_SECONDS
    with (
        _slack_errors(timeout),
        client.stream(
            "POST",
            target.url,
            json=payload,
            headers=target.headers,
            timeout=timeout,
            follow_redirects=False,
        ) as response,
    ):
        raw = read_capped(response, limit=MAX_SLACK_RESPONSE_BYTES)
    return _api_result(response, raw) if target.via_api else _webhook_result(response, raw)


@contextmanager
def _slack_errors(timeout: float) -> Iterator[None]:
    # Messages never name the URL: for a webhook the URL is the secret.
    try:
        yield
    except httpx.TimeoutException as error:
        raise NodeError(f"Slack did not answer within {timeout:.3g} s.") from error
    except BlockedAddress as error:
        raise NodeError(str(error)) from error
    except ResponseTooLarge as error:
        raise NodeError(f"Slack's answer is too large ({error}).") from error
    except httpx.HTTPError as error:
        raise NodeError(f"Could not reach Slack: {type(error).__name__}: {error}") from error


def _webhook_result(response: httpx.Response, raw: bytes) -> dict[str, Any]:
    # Incoming webhooks answer 200 "ok", or an error status with a short reason.
    if response.status_code != 200:
        reason = raw.decode("utf-8", errors="replace")[:200]
        raise NodeError(f"Slack webhook answered HTTP {response.status_code}: {reason}")
    return {"ok": True}


def _api_result(response: httpx.Response, raw: bytes) -> dict[str, Any]:
    if response.status_code != 200:
        retry = response.headers.get("retry-after")
        hint = f" (retry after {retry} s)" if retry else ""
        raise NodeError(f"Slack API answered HTTP {response.status_code}{hint}.")
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise NodeError("Slack API answered something other than a JSON object.")
    if answer.get("ok") is not True:
        raise NodeError(f"Slack API error: {answer.get('error') or 'unknown error'}")
    result: dict[str, Any] = {"ok": True}
    result.update({key: answer[key] for key in ("channel", "ts") if key in answer})
    return result
