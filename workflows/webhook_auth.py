"""Authenticating a webhook call: a header token, or an HMAC signature with a timestamp.

The secret lives in the trigger's credential; a signature is accepted once, within
``SIGNATURE_TOLERANCE_SECONDS`` of its timestamp.
"""

import hmac
import logging
import re
import time
from typing import Any

from django.core.cache import cache

from credentials.services import credential_resolver
from linkflow.core.errors import LinkflowError
from linkflow.engine.signing import signature

from .error_codes import WebhookErrorCode
from .models import WebhookAuth, WebhookTrigger
from .webhook_items import WebhookCall

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_HEADER = "X-Webhook-Token"
SIGNATURE_HEADER = "x-linkflow-signature"
SIGNATURE_TOLERANCE_SECONDS = 300
# Longer than the whole window a timestamp is accepted in (±300 s), so a signature cannot
# be replayed after the cache forgot it.
_SIGNATURE_MEMORY_SECONDS = 600


def webhook_authenticate(
    *, trigger: WebhookTrigger, call: WebhookCall, now: float | None = None
) -> frozenset[str]:
    """Check the call against the trigger's auth; return the header names that carried it.

    ``header``: the credential's ``header_name`` (default X-Webhook-Token) must carry its
    ``token``. ``hmac``: ``X-LinkFlow-Signature: t=<unix seconds>,v1=<hex>`` must hold
    HMAC-SHA256(secret, "<t>." + body), ``t`` within 300 s of ``now``, never seen before.
    Raises ``webhook_auth_failed`` (401) on any failure, a missing credential included.
    """
    if trigger.auth == WebhookAuth.NONE:
        return frozenset()
    fields = _auth_fields(trigger)
    if trigger.auth == WebhookAuth.HEADER:
        name = str(fields.get("header_name") or DEFAULT_TOKEN_HEADER).lower()
        _token_check(expected=fields.get("token"), given=call.headers.get(name))
        return frozenset({name})
    if trigger.auth == WebhookAuth.HMAC:
        moment = time.time() if now is None else now
        _signature_check(trigger=trigger, secret=fields.get("secret"), call=call, now=moment)
        return frozenset({SIGNATURE_HEADER})
    raise _auth_failed(f"Unknown webhook auth '{trigger.auth}'.")


def _auth_fields(trigger: WebhookTrigger) -> dict[str, Any]:
    try:
        return credential_resolver(workspace_id=trigger.workspace_id)(trigger.credential_id)
    except KeyError:
        logger.warning("webhook %s has no usable credential %r", trigger.pk, trigger.credential_id)
        raise _auth_failed("The webhook's credential is missing.") from None


def _token_check(*, expected: Any, given: str | None) -> None:
    # An empty configured token must never match an empty header.
    if not expected or given is None or not hmac.compare_digest(_utf8(given), _utf8(expected)):
        raise _auth_failed("The webhook token is missing or wrong.")


def _signature_check(
    *, trigger: WebhookTrigger, secret: Any, call: WebhookCall, now: float
) -> None:
    if not secret:
        raise _auth_failed("The webhook's credential has no secret.")
    timestamp, signatures = _signature_parse(call.headers.get(SIGNATURE_HEADER, ""))
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise _auth_failed("The signature's timestamp is too old or in the future.")
    expected = signature(secret=str(secret), timestamp=timestamp, body=call.body).encode()
    if not any(hmac.compare_digest(_utf8(given), expected) for given in signatures):
        raise _auth_failed("The signature does not match.")
    # cache.add is atomic: of two copies of one request racing in, only one gets through.
    key = f"linkflow:webhook-signature:{trigger.pk}:{expected.decode()}"
    if not cache.add(key, 1, timeout=_SIGNATURE_MEMORY_SECONDS):
        raise _auth_failed("This signature was used before.")


def _signature_parse(header: str) -> tuple[int, list[str]]:
    """(t, [v1 signatures]) from "t=...,v1=..."; several v1 allow rotating the secret."""
    parts = [part.strip().partition("=") for part in header.split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    signatures = [value.lower() for key, _, value in parts if key == "v1"]
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0]) or not signatures:
        raise _auth_failed("The X-LinkFlow-Signature header is missing or malformed.")
    return int(timestamps[0]), signatures


def _utf8(value: Any) -> bytes:
    return str(value).encode("utf-8", errors="replace")


def _auth_failed(reason: str) -> LinkflowError:
    return LinkflowError(
        WebhookErrorCode.AUTH_FAILED,
        "Webhook authentication failed.",
        details={"reason": reason},
        status_code=401,
    )
