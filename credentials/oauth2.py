"""OAuth2 for oauth2_client credentials: the connect flow (authorization code with PKCE)
and keeping the access token fresh.

Connect: ``oauth2_connect_url`` gives the provider's authorize URL with a one-time
``state`` kept in the cache (with the PKCE verifier) for STATE_TTL_SECONDS; the provider
sends the browser back to the callback, and ``oauth2_callback`` trades the code for
tokens, stored encrypted in the credential. Before a node gets the fields,
``oauth2_fresh_fields`` refreshes a token that is about to expire.
"""

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from linkflow.accounts.caller import Actor, user_of
from linkflow.accounts.models import Role, User
from linkflow.accounts.selectors import require_role
from linkflow.audit.services import audit_record
from linkflow.core.errors import LinkflowError
from linkflow.engine.errors import NodeError
from linkflow.engine.net import guarded_client

from .crypto import decrypt, encrypt
from .error_codes import CredentialErrorCode
from .models import Credential, CredentialType

STATE_TTL_SECONDS = 600
# A token this close to its expiry is refreshed first: it must outlive the node's request.
EXPIRY_MARGIN_SECONDS = 60
TOKEN_TIMEOUT_SECONDS = 15
_STATE_KEY = "linkflow:oauth2:state:{}"


class OAuth2Error(LinkflowError):
    """The provider refused or failed (502), or the callback is not one we expect (400)."""

    def __init__(self, code: CredentialErrorCode, message: str, *, status_code: int = 502) -> None:
        super().__init__(code, message, status_code=status_code)


def oauth2_connect_url(*, user: Actor, credential: Credential, redirect_uri: str) -> str:
    """The provider's authorize URL for connecting ``credential``; admins and owners only.

    Raises a 400 ``oauth2_not_applicable`` for a credential of another type.
    """
    require_role(user=user, workspace_id=credential.workspace_id, at_least=Role.ADMIN)
    if credential.type != CredentialType.OAUTH2_CLIENT:
        raise OAuth2Error(
            CredentialErrorCode.OAUTH2_NOT_APPLICABLE,
            "Only oauth2_client credentials connect.",
            status_code=400,
        )
    fields = decrypt(credential.secret)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    pending = {
        "credential_id": str(credential.pk),
        "user_id": str(user_of(user).pk),
        "verifier": verifier,
        "redirect_uri": redirect_uri,
    }
    cache.set(_STATE_KEY.format(state), pending, STATE_TTL_SECONDS)
    query = {
        "response_type": "code",
        "client_id": fields["client_id"],
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode("ascii"),
        "code_challenge_method": "S256",
    }
    scopes = fields.get("scopes")
    if scopes:
        query["scope"] = " ".join(scopes) if isinstance(scopes, list) else scopes
    separator = "&" if "?" in fields["authorize_url"] else "?"
    return f"{fields['authorize_url']}{separator}{urlencode(query)}"


def oauth2_callback(*, state: str, code: str, error: str = "") -> Credential:
    """Finish a connect flow: trade ``code`` for tokens and store them in the credential.

    The state is single-use. Raises 400 ``oauth2_state_invalid`` for an unknown, used or
    expired state, 400 ``oauth2_denied`` when the provider reports ``error``, and 502
    ``oauth2_token_failed`` when the token endpoint refuses or answers nonsense.
    """
    key = _STATE_KEY.format(state)
    pending = cache.get(key) if state else None
    # delete() tells whether this caller removed it: a replayed callback loses the race.
    if pending is None or not cache.delete(key):
        raise OAuth2Error(
            CredentialErrorCode.OAUTH2_STATE_INVALID,
            "This connect link is unknown or expired.",
            status_code=400,
        )
    if error:
        raise OAuth2Error(
            CredentialErrorCode.OAUTH2_DENIED, f"The provider refused: {error}.", status_code=400
        )
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=pending["credential_id"])
        fields = decrypt(credential.secret)
        tokens = _token_request(
            fields,
            grant_type="authorization_code",
            code=code,
            redirect_uri=pending["redirect_uri"],
            code_verifier=pending["verifier"],
        )
        credential.secret = encrypt({**fields, **tokens})
        credential.save(update_fields=["secret", "updated_at"])
        audit_record(
            action="credential.oauth2_connect",
            workspace_id=credential.workspace_id,
            actor=User.objects.filter(pk=pending["user_id"]).first(),
            target=credential,
            data={"name": credential.name, "type": credential.type},
        )
    return credential


def oauth2_fresh_fields(*, credential_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` (of an oauth2_client credential, ``type`` included or not) with an access
    token that is not about to expire, refreshing it (and storing the new tokens) if needed.

    The row is locked while refreshing, so concurrent executions refresh once and share
    the result. Raises NodeError (param "credential") when the credential was never
    connected, has expired without a refresh token, or the refresh fails.
    """
    if not fields.get("access_token"):
        raise NodeError("The OAuth2 credential is not connected yet.", param="credential")
    if not _expiring(fields):
        return fields
    with transaction.atomic():
        row = Credential.objects.select_for_update().get(pk=credential_id)
        stored = decrypt(row.secret)
        if not _expiring(stored):  # another execution refreshed it meanwhile
            return {**fields, **stored}
        if not stored.get("refresh_token"):
            raise NodeError(
                "The OAuth2 access token expired and there is no refresh token: connect again.",
                param="credential",
            )
        try:
            tokens = _token_request(
                stored, grant_type="refresh_token", refresh_token=stored["refresh_token"]
            )
        except OAuth2Error as failure:
            raise NodeError(failure.message, param="credential") from None
        stored.update(tokens)
        row.secret = encrypt(stored)
        row.save(update_fields=["secret", "updated_at"])
    return {**fields, **stored}


def _expiring(fields: dict[str, Any]) -> bool:
    expires_at = fields.get("expires_at")
    return expires_at is not None and float(expires_at) <= time.time() + EXPIRY_MARGIN_SECONDS


def _token_request(fields: dict[str, Any], **form: str) -> dict[str, Any]:
    """POST to the token endpoint (client credentials in the body); the new token fields."""
    form = {**form, "client_id": fields["client_id"]}
    if fields.get("client_secret"):
        form["client_secret"] = fields["client_secret"]
    # The token URL is the user's: the same SSRF guard as the HTTP node's.
    with guarded_client(
        allow_private=settings.LINKFLOW_HTTP_ALLOW_PRIVATE,
        allow_hosts=settings.LINKFLOW_HTTP_ALLOW_HOSTS,
        timeout=TOKEN_TIMEOUT_SECONDS,
    ) as client:
        try:
            response = client.post(
                fields["token_url"], data=form, headers={"Accept": "application/json"}
            )
            payload = response.json() if response.is_success else None
        except (httpx.HTTPError, ValueError):
            payload = None
            response = None
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
        status = f"status {response.status_code}" if response is not None else "no answer"
        raise OAuth2Error(
            CredentialErrorCode.OAUTH2_TOKEN_FAILED, f"The OAuth2 token endpoint failed ({status})."
        )
    return _token_fields(payload, previous_refresh=fields.get("refresh_token"))


def _token_fields(payload: dict[str, Any], *, previous_refresh: Any) -> dict[str, Any]:
    tokens: dict[str, Any] = {
        "access_token": payload["access_token"],
        "token_type": str(payload.get("token_type") or "Bearer"),
        "expires_at": None,
    }
    # A provider that does not rotate refresh tokens sends none on refresh: keep the old.
    refresh = payload.get("refresh_token") or previous_refresh
    if refresh:
        tokens["refresh_token"] = str(refresh)
    expires_in = payload.get("expires_in")
    if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
        tokens["expires_at"] = time.time() + int(expires_in)
    return tokens
