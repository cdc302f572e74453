"""JWT and OAuth2 bearer tokens, side by side on the same ``Authorization: Bearer`` header.

A JWT has three dot-separated parts; an OAuth2 access token from django-oauth-toolkit is
an opaque string without dots. Each class takes only its own kind, so a JWT request never
costs an OAuth2 token lookup, and a bearer token neither accepts answers 401
``authentication_failed`` (never a silent fall-through to "not signed in").
"""

import uuid
from typing import Any, cast

from oauth2_provider.contrib.rest_framework import (
    OAuth2Authentication as ToolkitOAuth2Authentication,
)
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from .models import User
from .recent_users import user_cached

BEARER = "bearer"


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == BEARER and token.strip() else None


class JWTAuthentication(SimpleJWTAuthentication):
    """simplejwt's access tokens; expired, forged, ``alg: none`` and garbage ones are 401."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        token = _bearer_token(request)
        if token is None or token.count(".") != 2:
            return None  # not a JWT: an OAuth2 token, or nothing at all
        try:
            validated = self.get_validated_token(token.encode())
        except InvalidToken:
            # simplejwt's detail is a nested dict; the error shape wants one sentence.
            raise exceptions.AuthenticationFailed(
                "The token is invalid or expired.", code="token_not_valid"
            ) from None
        return self.get_user(validated), validated

    def get_user(self, validated_token: Token) -> Any:
        """The token's user, through the per-process cache of recent users
        (recent_users.py); a missing or inactive user is refused by simplejwt."""
        try:
            user_id = uuid.UUID(str(validated_token[api_settings.USER_ID_CLAIM]))
        except (KeyError, ValueError):
            raise exceptions.AuthenticationFailed(
                "The token is invalid or expired.", code="token_not_valid"
            ) from None
        load = super().get_user
        return user_cached(user_id=user_id, load=lambda: cast(User, load(validated_token)))


class OAuth2Authentication(ToolkitOAuth2Authentication):  # type: ignore[misc]  # untyped library
    """django-oauth-toolkit access tokens; a revoked or expired one is 401, not anonymous."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        token = _bearer_token(request)
        if token is None or token.count(".") == 2:
            return None
        result = super().authenticate(request)
        if result is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        user, access_token = result
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("This token acts for no active user.")
        return user, access_token
