"""What a caller may reach: its workspaces, and for delegated credentials their scopes.

A person signed in (session or JWT) acts with their full membership. A delegated
credential acts with less: an API key only inside its own workspace and within its
scopes, an OAuth2 access token in its user's workspaces within the scopes the user
granted. Both limits travel on the request's ``Caller`` (``http.api_caller``): the
workspace limit to the accounts selectors, the scopes to ``HasScope``, which is in
DEFAULT_PERMISSION_CLASSES, so a view that declares no ``required_scopes`` refuses
delegated credentials instead of silently letting them through.
"""

from typing import Any

from oauth2_provider.scopes import BaseScopes
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .http import api_caller

# Every scope an API key or an OAuth2 token may carry. A write scope does not include the
# matching read scope: a caller asks for exactly what it needs.
SCOPES: dict[str, str] = {
    "workflows:read": "Read workflows and the node catalogue",
    "workflows:write": "Create, change and delete workflows",
    "executions:read": "Read executions and what every node did",
    "executions:write": "Run workflows; cancel, retry and re-run executions",
    "credentials:read": "List credentials (never their secret values)",
    "credentials:write": "Create, change and delete credentials",
    "workspaces:read": "Read workspaces and their members",
    "workspaces:write": "Change workspaces and their members",
}
# What an OAuth2 client gets when it asks for no scope: reading only.
DEFAULT_OAUTH_SCOPES = [name for name in SCOPES if name.endswith(":read")]


def granted_scopes(request: Request) -> frozenset[str] | None:
    """The scopes of the request's delegated credential; None when a person signed in."""
    return api_caller(request).scopes


def is_delegated(request: Request) -> bool:
    """Whether the request comes with an API key or an OAuth2 token, not a person's login."""
    return granted_scopes(request) is not None


class HasScope(BasePermission):
    """Refuse an API key or OAuth2 token that lacks the scope the view asks for.

    A view declares ``required_scopes = {"read": "workflows:read", "write":
    "workflows:write"}``: the read scope for safe methods, the write scope otherwise; an
    entry named after a viewset action (e.g. ``"execute"``) overrides both. A view
    without ``required_scopes`` is closed to delegated credentials. People signed in
    pass; their role is checked by the services.
    """

    message = "This API key or token lacks the scope this needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        granted = granted_scopes(request)
        if granted is None:
            return True
        needed = required_scope(request, view)
        if needed is None:
            self.message = "API keys and OAuth2 tokens cannot use this endpoint."
            return False
        if needed not in granted:
            self.message = f"This API key or token lacks the {needed!r} scope."
            return False
        return True


def required_scope(request: Request, view: Any) -> str | None:
    """The scope ``view`` asks of this request, or None when it declares none."""
    declared: dict[str, str] | None = getattr(view, "required_scopes", None)
    if not declared:
        return None
    action = getattr(view, "action", None)
    if action and action in declared:
        return declared[action]
    return declared.get("read" if request.method in SAFE_METHODS else "write")


class SignedInPersonOnly(BasePermission):
    """For managing credentials themselves: a key or token may not mint or see keys."""

    message = "API keys and OAuth2 tokens cannot manage API keys."

    def has_permission(self, request: Request, view: Any) -> bool:
        return not is_delegated(request)


class ScopesBackend(BaseScopes):  # type: ignore[misc]  # oauth2_provider ships no types
    """django-oauth-toolkit reads the scope list from here, so it is defined once."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return list(SCOPES)

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return list(DEFAULT_OAUTH_SCOPES)
