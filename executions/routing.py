"""WebSocket routes of the progress feeds, and how a WebSocket caller proves who it is.

Browsers send the session cookie (Channels' AuthMiddlewareStack reads it). Other clients
present a JWT access token or an API key, in the query string or, to keep it out of
access logs, as a subprotocol pair:

    ?token=<access>     or  Sec-WebSocket-Protocol: bearer, <access>
    ?api_key=<key>      or  Sec-WebSocket-Protocol: api-key, <key>

The server answers with the subprotocol it chose (``bearer`` or ``api-key``). A presented
credential replaces the session; one that does not check out leaves the caller anonymous,
which the consumer refuses with close code 4401. An API key acts inside its own workspace
only, and only with the ``executions:read`` scope (else 4403).

``Origin`` is checked (against ALLOWED_HOSTS) only for sockets that present no credential,
i.e. ride on the session cookie: see CookieOriginValidator.
"""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser
from django.urls import re_path
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from executions.consumers import ExecutionFeedConsumer, WorkspaceFeedConsumer
from linkflow.accounts.api_keys import api_key_check
from linkflow.accounts.caller import Caller
from linkflow.accounts.models import User

BEARER_SUBPROTOCOL = "bearer"
API_KEY_SUBPROTOCOL = "api-key"
# The API-key scope that lets a key follow executions.
API_KEY_SCOPE = "executions:read"

websocket_urlpatterns = [
    re_path(r"^ws/executions/(?P<execution_id>[^/]+)/$", ExecutionFeedConsumer.as_asgi()),
    re_path(
        r"^ws/workspaces/(?P<workspace_id>[^/]+)/executions/$", WorkspaceFeedConsumer.as_asgi()
    ),
]


class CredentialMiddleware:
    """Puts the user of a JWT or API key from the handshake into ``scope["user"]`` and its
    caller (an API key's confined to the key's workspace) into ``scope["linkflow_caller"]``,
    the subprotocol to answer with into ``scope["linkflow_subprotocol"]``, and for an API
    key whether its scopes allow following executions into ``scope["linkflow_scope_ok"]``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)  # a copy: the outer layers keep the scope they passed
        kind, credential, subprotocol = _presented(scope)
        scope["linkflow_subprotocol"] = subprotocol
        scope["linkflow_scope_ok"] = True
        if kind is not None:
            caller, scope_ok = await _caller_for(kind=kind, credential=credential)
            scope["user"] = caller.user if caller is not None else AnonymousUser()
            scope["linkflow_caller"] = caller
            scope["linkflow_scope_ok"] = scope_ok
        return await self.inner(scope, receive, send)


class ServerSendMiddleware:
    """Keeps the server's own ``send`` in ``scope["linkflow_send"]``.

    The session middleware wraps ``send`` to save a changed session, a check (through
    lazy objects) on every message; the feeds never change the session, so their event
    frames go straight to the server (fanning out, that check cost about a tenth of the
    time spent per frame).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.inner({**scope, "linkflow_send": send}, receive, send)


class CookieOriginValidator:
    """Checks ``Origin`` against ALLOWED_HOSTS for sockets that ride on the session cookie,
    and only for those.

    The cookie is ambient: a browser sends it to a socket any page opens, so a foreign
    page must be refused by its Origin (cross-site WebSocket hijacking). A token or an API
    key is not ambient: only a caller holding it can present it, and scripts and servers
    (python ``websockets``, curl) send no Origin at all. A presented credential replaces
    the session (CredentialMiddleware), so such a socket never acts with the cookie.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.origin_checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        kind, _, _ = _presented(scope)
        if kind is None:
            return await self.origin_checked(scope, receive, send)
        return await self.inner(scope, receive, send)


def websocket_application(inner: Any = None) -> Any:
    """The feeds' routes behind the Origin check of cookie sockets, session auth and the
    credential middleware."""
    routes = inner or URLRouter(websocket_urlpatterns)
    stack = ServerSendMiddleware(AuthMiddlewareStack(CredentialMiddleware(routes)))
    return CookieOriginValidator(stack)


def _presented(scope: dict[str, Any]) -> tuple[str | None, str, str | None]:
    """``(kind, credential, subprotocol to answer)``; kind is None when nothing is presented."""
    offered = [p.strip() for p in scope.get("subprotocols") or []]
    if len(offered) >= 2 and offered[0] in (BEARER_SUBPROTOCOL, API_KEY_SUBPROTOCOL):
        return offered[0], offered[1], offered[0]
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    if query.get("token"):
        return BEARER_SUBPROTOCOL, query["token"][0], None
    if query.get("api_key"):
        return API_KEY_SUBPROTOCOL, query["api_key"][0], None
    return None, "", None


def _caller_lookup(*, kind: str, credential: str) -> tuple[Caller | None, bool]:
    """The credential's caller (None when it does not check out) and whether it may read."""
    if kind == BEARER_SUBPROTOCOL:
        user = _user_from_jwt(credential)
        return (Caller.person(user) if user is not None else None), True
    return _caller_from_api_key(credential)


# Channels ships no types, so the wrapped function's type is stated here.
_caller_for: Callable[..., Awaitable[tuple[Caller | None, bool]]]
_caller_for = database_sync_to_async(_caller_lookup)


def _user_from_jwt(token: str) -> User | None:
    auth = JWTAuthentication()
    try:
        user = auth.get_user(auth.get_validated_token(token.encode()))
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None
    # The token's user is an AUTH_USER_MODEL row, typed by simplejwt as its abstract base.
    return user if isinstance(user, User) else None


def _caller_from_api_key(raw_key: str) -> tuple[Caller | None, bool]:
    """The key's creator, confined to the key's workspace, and whether the key may read
    executions.

    accounts.api_keys.api_key_check refuses malformed, unknown, revoked and expired keys
    and keys whose creator left; the selectors then honour the workspace confinement.
    """
    try:
        key = api_key_check(raw_key=raw_key)
    except AuthenticationFailed:
        return None, False
    return Caller.for_api_key(key), API_KEY_SCOPE in key.scopes
