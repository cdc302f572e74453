"""How the API's authentication classes appear in the OpenAPI document (drf-spectacular
extensions, registered when this module is imported: ``AccountsConfig.ready``)."""

from types import SimpleNamespace
from typing import Any

from django.urls import reverse
from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from .scoping import SCOPES, required_scope


def _required_scope(auto_schema: SpectacularAutoSchema) -> str | None:
    """The scope an API key or OAuth2 token needs for this operation (None: refused)."""
    # required_scope() reads only the request's method.
    return required_scope(SimpleNamespace(method=auto_schema.method), auto_schema.view)  # type: ignore[arg-type]


class LinkflowJWTScheme(SimpleJWTScheme):
    """LinkFlow's JWT class (it lets OAuth2 bearer tokens through) is simplejwt's scheme."""

    target_class = "linkflow.accounts.authentication.JWTAuthentication"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "linkflow.accounts.api_keys.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: SpectacularAutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A workspace API key (also accepted as `Authorization: Api-Key "
            "<key>`); it reaches only its workspace, within its scopes.",
        }

    def get_security_requirement(self, auto_schema: SpectacularAutoSchema) -> Any:
        return {self.name: []} if _required_scope(auto_schema) else None


class LinkflowOAuth2Scheme(DjangoOAuthToolkitScheme):
    """Third-party applications: the authorization-code flow (with PKCE) of /oauth/."""

    target_class = "linkflow.accounts.authentication.OAuth2Authentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: SpectacularAutoSchema) -> dict[str, Any]:
        flow = {
            "authorizationUrl": reverse("oauth2_provider:authorize"),
            "tokenUrl": reverse("oauth2_provider:token"),
            "refreshUrl": reverse("oauth2_provider:token"),
            "scopes": dict(SCOPES),
        }
        return {"type": "oauth2", "flows": {"authorizationCode": flow}}

    def get_security_requirement(self, auto_schema: SpectacularAutoSchema) -> Any:
        scope = _required_scope(auto_schema)
        return {self.name: [scope]} if scope else None
