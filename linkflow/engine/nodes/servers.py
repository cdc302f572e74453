"""What the database, queue and storage nodes share: where a credential points, the
address policy its connection must pass, the node's time, and JSON-safe values.

Every driver connects either through ``open_guarded_socket`` (when it accepts a socket)
or to the one address ``checked_address`` returned, never to a name it resolves itself:
the address policy, LinkFlow's own services included, is checked once and what was
checked is what gets connected to.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linkflow.engine.errors import NodeError
from linkflow.engine.net import AddressPolicy, checked_addresses

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

DEFAULT_TIMEOUT_SECONDS = 30.0
# An SQL identifier as nodes accept it: a plain name, optionally "schema.table".
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$"
TABLE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$",
}
COLUMN_SCHEMA: dict[str, Any] = {"type": "string", "pattern": IDENTIFIER_PATTERN}


@dataclass(frozen=True, slots=True)
class Server:
    """A credential's server: the host as the user named it, the address it was checked
    at (connect to this one), the port, the node's time for the whole job, and the
    credential's other fields."""

    host: str
    address: str
    port: int
    timeout: float
    fields: dict[str, Any]

    @property
    def tls(self) -> bool:
        return self.fields.get("security") not in (None, "", "none", "disable")


def policy(ctx: NodeContext) -> AddressPolicy:
    """The host's address policy; the default-deny one when the host gave none."""
    return ctx.run.address_policy or AddressPolicy()


def node_timeout(ctx: NodeContext) -> float:
    """Seconds the node may take: its timeout or the execution's deadline, 30 s at most
    when neither is set."""
    return ctx.time_left(default=DEFAULT_TIMEOUT_SECONDS) or DEFAULT_TIMEOUT_SECONDS


def server(ctx: NodeContext, *, kind: str, default_port: int) -> Server:
    """The node's ``kind`` credential, resolved and checked against the address policy.

    Raises NodeError for a missing or wrong credential, and for a host the policy refuses
    (LinkFlow's own database, Redis and brokers always) or that does not resolve.
    """
    fields = ctx.credential()
    if fields.get("type") not in (kind, None):
        raise NodeError(f"This node needs a {kind} credential.", param="credential")
    host = str(fields.get("host") or "").strip()
    if not host:
        raise NodeError("The credential has no host.", param="credential")
    port = int(fields.get("port") or default_port)
    return Server(
        host=host,
        address=checked_address(host, port, policy=policy(ctx)),
        port=port,
        timeout=node_timeout(ctx),
        fields=fields,
    )


def checked_address(host: str, port: int, *, policy: AddressPolicy) -> str:
    """The first address of ``host`` once every address it resolves to passed ``policy``.

    Raises NodeError naming the reason (the BlockedAddress text) otherwise.
    """
    try:
        return checked_addresses(host, port, policy=policy)[0]
    except OSError as error:
        raise NodeError(str(error), param="credential") from None


def json_value(value: Any) -> Any:
    """``value`` (a driver's column value) as JSON: numbers stay numbers (decimals that are
    not whole become text, so no precision is lost), dates become ISO-8601, bytes base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(v) for v in value]
    return str(value)


def failure(error: Exception, *, secrets: tuple[str, ...] = ()) -> NodeError:
    """A driver's exception as a NodeError whose message never contains ``secrets``."""
    message = f"{type(error).__name__}: {error}".strip()
    for secret in (s for s in secrets if s):
        message = message.replace(secret, "***")
    return NodeError(message)
