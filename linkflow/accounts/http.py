"""Typed requests: what authentication has established by the time a view body runs.

Annotating a view's ``request`` with one of these tells the type checker that
``request.user`` is a ``User`` (not an anonymous one) and what the page decorator or the
API's authentication added. They are annotations only: Django and DRF build their own
request objects, which carry these attributes at run time.
"""

from typing import cast

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from oauth2_provider.models import AbstractAccessToken
from rest_framework.request import Request

from .caller import Caller
from .models import ApiKey, User, Workspace


class AuthenticatedHttpRequest(HttpRequest):
    """A page request after ``login_required`` (``htmx`` is django-htmx's middleware's)."""

    user: User
    htmx: HtmxDetails


class WorkspaceHttpRequest(AuthenticatedHttpRequest):
    """A page request inside ``web.page()``: the workspace it works in, the visitor's role
    there, and the caller the page's selectors and services are given."""

    workspace: Workspace
    role: str
    caller: Caller


class ApiRequest(Request):
    """A DRF request that passed ``IsAuthenticated``; its caller is ``api_caller(request)``."""

    user: User
    linkflow_caller: Caller


def api_caller(request: Request) -> Caller:
    """The request's caller, built on first use from what authentication established and
    kept on the request (not on the user), so its role cache lasts exactly one request.

    An API key confines it to the key's workspace and scopes; an OAuth2 token gives its
    scopes; a session or JWT gives a person acting with their full membership.
    """
    caller: Caller | None = getattr(request, "linkflow_caller", None)
    if caller is None:
        caller = _caller_from_auth(request)
        cast(ApiRequest, request).linkflow_caller = caller
    return caller


def _caller_from_auth(request: Request) -> Caller:
    auth = request.auth
    if isinstance(auth, ApiKey):
        return Caller.for_api_key(auth)
    # An OAuth2 token's user acts within the scopes the user granted; a person, with none.
    scopes = frozenset(auth.scope.split()) if isinstance(auth, AbstractAccessToken) else None
    return Caller.person(cast(ApiRequest, request).user, scopes=scopes)
