"""data.crypto: hashes, HMAC signatures (key from an hmac_key credential) and random values.

The key never appears in the node's parameters or output: it comes from the credential,
whose secret the host redacts from everything it stores.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.data import FIELD_NAME_SCHEMA, set_path
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

ALGORITHMS = ("md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b")
MAX_RANDOM_BYTES = 1024


class Crypto(NodeType):
    """Hashes or signs a value, or makes a random one."""

    type = "data.crypto"
    # Impure only because a random value differs on each run; nothing leaves LinkFlow.
    outside_effects = False
    # The HMAC key: an hmac_key, or a webhook_auth secret (see _key).
    credential_types = ("hmac_key", "webhook_auth")
    label = "Crypto"
    description = (
        "Hashes a value (SHA-256…), signs it with HMAC using a key credential, or makes a "
        "random token or UUID."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["hash", "hmac", "random"]},
            "value": {"description": "Text to hash or sign; objects are hashed as sorted JSON."},
            "algorithm": {"enum": list(ALGORITHMS), "default": "sha256"},
            "encoding": {"enum": ["hex", "base64", "base64url", "uuid"], "default": "hex"},
            "length": {
                "description": "Random bytes to make.",
                **or_expression({"type": "integer", "minimum": 1, "maximum": MAX_RANDOM_BYTES}),
                "default": 32,
            },
            "output_field": {**FIELD_NAME_SCHEMA, "default": "crypto"},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    @classmethod
    def credential_needed(cls, params: Mapping[str, Any], version: int) -> bool:
        """Only ``hmac`` signs with the key; hashes and random values need none."""
        return params.get("operation") == "hmac"

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Every item with ``output_field`` set to the digest or random value. Raises
        NodeError for an hmac without a usable hmac_key credential."""
        return {"main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        operation, encoding = ctx.params["operation"], ctx.params.get("encoding", "hex")
        algorithm = ctx.params.get("algorithm", "sha256")
        if operation == "random":
            result = _random(ctx.param("length", item_index=index, default=32), encoding)
        else:
            data = _bytes(ctx.param("value", item_index=index, default=""))
            if operation == "hmac":
                digest = hmac.new(_key(ctx), data, algorithm).digest()
            else:
                digest = hashlib.new(algorithm, data).digest()
            result = _encode(digest, encoding)
        out = dict(item)
        set_path(out, ctx.params.get("output_field", "crypto"), result)
        return [out]


def _key(ctx: NodeContext) -> bytes:
    fields = ctx.credential()
    key = fields.get("key") or fields.get("secret")  # hmac_key, or a webhook_auth secret
    if not isinstance(key, str) or not key:
        raise NodeError("The credential has no HMAC key.", param="credential")
    return key.encode()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _random(length: Any, encoding: str) -> str:
    if encoding == "uuid":
        return str(uuid.uuid4())
    if (
        isinstance(length, bool)
        or not isinstance(length, int)
        or not 0 < length <= MAX_RANDOM_BYTES
    ):
        raise NodeError(
            f"'length' must be 1 to {MAX_RANDOM_BYTES}, got {length!r}.", param="params.length"
        )
    return _encode(secrets.token_bytes(length), encoding)


def _encode(digest: bytes, encoding: str) -> str:
    if encoding == "base64":
        return base64.b64encode(digest).decode()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return digest.hex()
