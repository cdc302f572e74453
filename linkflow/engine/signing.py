"""The HMAC signature scheme of LinkFlow's webhooks, both directions.

``X-LinkFlow-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, "<t>." + body). LinkFlow checks it on incoming webhook calls
(workflows/webhook_auth.py) and puts it on the events notify.webhook delivers, so a receiver
verifies LinkFlow's events exactly as LinkFlow verifies its callers.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-LinkFlow-Signature"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8", errors="replace"), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    """The value of the X-LinkFlow-Signature header for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"
