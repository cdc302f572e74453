"""API keys: minting, listing, revoking, and authenticating requests that carry one.

A key reads ``lf_<prefix8>_<secret>``. Only the SHA-256 of the whole key is stored; the
``lf_<prefix8>`` part finds the row and is what lists show, so a leaked key can be
recognised without the secret ever being kept. A key acts for its creator, confined to its
workspace (``Caller.for_api_key``) and its scopes (``scoping.HasScope``), and
only while its creator is active and still a member there.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from linkflow.audit.services import audit_record
from linkflow.core.errors import ErrorCode, LinkflowError, NotFound

from .caller import Actor, user_of
from .models import ApiKey, Membership, Role, User, Workspace
from .scoping import SCOPES
from .selectors import require_role

KEY_PREFIX = "lf"
_PREFIX_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
# Writing last_used_at on every request would put a write on every read; a minute's
# precision is enough to tell a key that is in use from one that is forgotten.
LAST_USED_PRECISION = timedelta(minutes=1)


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _new_raw_key() -> tuple[str, str]:
    """A fresh ``(prefix, raw_key)``: 8 random characters to find it, 256 bits of secret."""
    tag = "".join(secrets.choice(_PREFIX_CHARS) for _ in range(8))
    prefix = f"{KEY_PREFIX}_{tag}"
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def _invalid(field: str, message: str) -> LinkflowError:
    return LinkflowError(
        ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details={field: [message]}
    )


# --- Services -------------------------------------------------------------------------


def api_key_create(
    *,
    user: Actor,
    workspace: Workspace,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Mint a key for ``workspace``; return it with the raw key, which is never shown again.

    Admins and owners only: NotFound (404) for an outsider, PermissionDenied (403) for
    an editor or viewer. A 400 ``validation_error`` names ``scopes`` for an empty list or
    an unknown scope, and ``expires_at`` for a time in the past.
    """
    require_role(user=user, workspace_id=workspace.pk, at_least=Role.ADMIN)
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        raise _invalid("scopes", f"Choose one or more of: {', '.join(SCOPES)}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise _invalid("expires_at", "This time is in the past.")
    # 36^8 prefixes: a clash is vanishingly rare, and the unique index would refuse it.
    prefix, raw_key = _new_raw_key()
    key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=prefix,
        secret_hash=_hash(raw_key),
        scopes=scopes,
        expires_at=expires_at,
        created_by=user_of(user),
    )
    _audit("api_key.create", user=user, key=key, data={"name": name, "scopes": scopes})
    return key, raw_key


@transaction.atomic
def api_key_revoke(*, user: Actor, key: ApiKey) -> ApiKey:
    """Revoke the key at once; admins and owners of its workspace only.

    Revoking a revoked key changes nothing (the first revocation time stays).
    NotFound for an outsider, PermissionDenied for an editor or viewer.
    """
    require_role(user=user, workspace_id=key.workspace_id, at_least=Role.ADMIN)
    now = timezone.now()
    if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now):
        key.revoked_at = now
        _audit("api_key.revoke", user=user, key=key, data={"name": key.name})
    return key


def _audit(action: str, *, user: Actor, key: ApiKey, data: dict[str, object]) -> None:
    audit_record(
        action=action, workspace_id=key.workspace_id, actor=user_of(user), target=key, data=data
    )


# --- Selectors ------------------------------------------------------------------------


def api_key_list(*, user: Actor, workspace_id: UUID | str) -> QuerySet[ApiKey]:
    """The workspace's keys, newest first (revoked ones too); admins and owners only."""
    require_role(user=user, workspace_id=workspace_id, at_least=Role.ADMIN)
    return ApiKey.objects.filter(workspace_id=workspace_id).select_related("created_by")


def api_key_get(*, user: Actor, workspace_id: UUID | str, id: UUID | str) -> ApiKey:
    """One key of the workspace, or NotFound; admins and owners only."""
    key = api_key_list(user=user, workspace_id=workspace_id).filter(pk=id).first()
    if key is None:
        raise NotFound("API key not found.")
    return key


# --- Authentication -------------------------------------------------------------------


def api_key_check(*, raw_key: str) -> ApiKey:
    """The live key ``raw_key`` names, with ``created_by`` loaded and annotated with
    ``creator_role``, the creator's role in the key's workspace (``Caller.for_api_key``).

    Raises ``AuthenticationFailed`` for a malformed, unknown, revoked or expired key, and
    for one whose creator is inactive or has left the workspace. Records the use at most
    once per ``LAST_USED_PRECISION``.
    """
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[2]:
        raise exceptions.AuthenticationFailed("Malformed API key.")
    creator_role = Membership.objects.filter(
        user_id=OuterRef("created_by_id"), workspace_id=OuterRef("workspace_id")
    ).values("role")[:1]
    key = (
        ApiKey.objects.select_related("created_by")
        .annotate(creator_role=Subquery(creator_role))
        .filter(prefix=f"{parts[0]}_{parts[1]}")
        .first()
    )
    # Compared in constant time, so timing does not reveal how much of a guess was right.
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(raw_key)):
        raise exceptions.AuthenticationFailed("Invalid API key.")
    _require_live(key)
    _touch(key)
    return key


def _require_live(key: ApiKey) -> None:
    now = timezone.now()
    if key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise exceptions.AuthenticationFailed("This API key has expired.")
    if not key.created_by.is_active:
        raise exceptions.AuthenticationFailed("The user who created this API key is inactive.")
    if key.creator_role is None:  # type: ignore[attr-defined]
        raise exceptions.AuthenticationFailed(
            "The user who created this API key has left its workspace."
        )


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    # Conditional, so concurrent requests with the same key write once between them.
    stale = now - LAST_USED_PRECISION
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=key.pk
    ).update(last_used_at=now)
    key.last_used_at = now


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>`` or ``X-API-Key: <key>``.

    ``request.user`` is the key's creator; ``request.auth`` is the ApiKey, whose scopes
    ``scoping.HasScope`` checks and from which ``http.api_caller`` confines the caller to
    the key's workspace.
    """

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        raw_key = self._raw_key(request)
        if raw_key is None:
            return None
        key = api_key_check(raw_key=raw_key)
        return key.created_by, key

    def _raw_key(self, request: Request) -> str | None:
        header: str = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == self.keyword.lower():
            value = value.strip()
            if not value:
                raise exceptions.AuthenticationFailed("No API key after 'Api-Key'.")
            return value
        value = str(request.META.get("HTTP_X_API_KEY", "")).strip()
        return value or None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
