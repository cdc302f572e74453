"""``/api/v1/credentials/``: CRUD (write-only values), types, and the OAuth2 connect flow."""

from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from credentials import selectors, services
from credentials.api.serializers import (
    CredentialCreateSerializer,
    CredentialOutSerializer,
    CredentialTypeOutSerializer,
    CredentialUpdateSerializer,
    OAuth2CallbackQuerySerializer,
)
from credentials.models import Credential
from credentials.oauth2 import oauth2_callback, oauth2_connect_url
from credentials.types import SCHEMAS
from linkflow.accounts.http import api_caller
from linkflow.accounts.selectors import workspace_target
from linkflow.core.api import validated, validated_query
from linkflow.core.schema import ErrorSerializer, error_response


class CredentialViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Credential],
):
    serializer_class = CredentialOutSerializer
    pagination_class = None
    required_scopes = {
        "read": "credentials:read",
        "write": "credentials:write",
        "oauth2_connect": "credentials:write",
    }

    def get_queryset(self) -> QuerySet[Credential]:
        return selectors.credential_list(user=api_caller(self.request))

    def get_object(self) -> Credential:
        return selectors.credential_get(user=api_caller(self.request), id=self.kwargs["pk"])

    @extend_schema(request=CredentialCreateSerializer, responses={201: CredentialOutSerializer})
    def create(self, request: Request) -> Response:
        data = validated(CredentialCreateSerializer(data=request.data))
        credential = services.credential_create(
            user=api_caller(request),
            workspace=workspace_target(
                user=api_caller(request), workspace_id=data.get("workspace")
            ),
            name=data["name"],
            type=data["type"],
            data=data["data"],
        )
        return Response(CredentialOutSerializer(credential).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CredentialUpdateSerializer, responses=CredentialOutSerializer)
    def update(self, request: Request, pk: str) -> Response:
        """PUT: ``data`` replaces every field."""
        return self._update(request, replace=True)

    @extend_schema(request=CredentialUpdateSerializer, responses=CredentialOutSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """PATCH: ``data`` is merged into the fields; a null value removes one."""
        return self._update(request, replace=False)

    def _update(self, request: Request, *, replace: bool) -> Response:
        credential = self.get_object()
        data = validated(CredentialUpdateSerializer(data=request.data))
        credential = services.credential_update(
            user=api_caller(request),
            credential=credential,
            name=data.get("name"),
            data=data.get("data"),
            replace=replace,
        )
        return Response(CredentialOutSerializer(credential).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.credential_delete(user=api_caller(request), credential=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=CredentialTypeOutSerializer(many=True))
    @action(detail=False, methods=["get"])
    def types(self, request: Request) -> Response:
        """Every credential type with its fields, which are secret and which required."""
        return Response([schema.describe() for schema in SCHEMAS.values()])

    @extend_schema(responses={302: None, 400: error_response(400)})
    @action(detail=True, methods=["get"], url_path="oauth2/connect")
    def oauth2_connect(self, request: Request, pk: str) -> HttpResponseRedirect:
        """Send the browser to the provider to grant access (authorization code + PKCE).

        400 ``oauth2_not_applicable`` for a credential of another type.
        """
        redirect_uri = request.build_absolute_uri(reverse("credential-oauth2-callback"))
        url = oauth2_connect_url(
            user=api_caller(request), credential=self.get_object(), redirect_uri=redirect_uri
        )
        return HttpResponseRedirect(url)


class OAuth2CallbackView(APIView):
    """Where the provider sends the browser back. The one-time ``state`` ties it to the
    connect request, so no sign-in is needed here (a JWT client's browser has none)."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        parameters=[OAuth2CallbackQuerySerializer],
        responses={
            200: CredentialOutSerializer,
            400: error_response(400),
            502: OpenApiResponse(
                ErrorSerializer, description="The provider's token endpoint refused the code."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        """400 ``oauth2_state_invalid`` for a state this server did not issue (or used or
        expired), 400 ``oauth2_denied`` when the provider sends ``error``."""
        query = validated_query(OAuth2CallbackQuerySerializer, request)
        credential = oauth2_callback(
            state=query["state"], code=query.get("code", ""), error=query.get("error", "")
        )
        return Response(CredentialOutSerializer(credential).data)
