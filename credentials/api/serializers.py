"""Credentials over the API: values go in, never out."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credentials.crypto import decrypt
from credentials.models import Credential, CredentialType
from credentials.types import fields_set
from linkflow.core.fields import StrictCharField, StrictUUIDField


@extend_schema_field(
    {
        "type": "object",
        "description": "The credential's fields, as `GET /api/v1/credentials/types/` lists "
        "them for its type; checked against that list (400 naming `data`).",
    }
)
class CredentialDataField(serializers.JSONField):
    """The fields of a credential: a JSON object, never null, a list or a number."""

    default_error_messages = {"invalid": "Must be a JSON object."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("invalid")
        return super().to_internal_value(data)


class CredentialCreateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=200)
    type = serializers.ChoiceField(choices=CredentialType.choices)
    # Checked against the type's schema by the service.
    data = CredentialDataField()  # type: ignore[assignment]  # shadows a Field attribute
    workspace = StrictUUIDField(required=False)


class CredentialUpdateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=200, required=False)
    data = CredentialDataField(required=False)  # type: ignore[assignment]  # shadows a Field attribute


class OAuth2CallbackQuerySerializer(serializers.Serializer[Any]):
    """What the provider appends to the redirect URI (RFC 6749 section 4.1.2)."""

    state = StrictCharField(max_length=200, help_text="The one-time state of the connect link.")
    code = StrictCharField(required=False, help_text="The authorization code.")
    error = StrictCharField(required=False, help_text="Set when refused.")


class CredentialOutSerializer(serializers.ModelSerializer[Credential]):
    """Names which fields are set, never their values."""

    fields_set = serializers.SerializerMethodField()
    oauth2 = serializers.SerializerMethodField()

    class Meta:
        model = Credential
        fields = (
            "id",
            "name",
            "type",
            "workspace",
            "fields_set",
            "oauth2",
            "created_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_fields_set(self, credential: Credential) -> list[str]:
        return fields_set(type=credential.type, fields=self._fields(credential))

    def get_oauth2(self, credential: Credential) -> dict[str, Any] | None:
        """For oauth2_client: whether it is connected and until when the token is good."""
        if credential.type != CredentialType.OAUTH2_CLIENT:
            return None
        fields = self._fields(credential)
        return {
            "connected": bool(fields.get("access_token")),
            "expires_at": fields.get("expires_at"),
            "refreshable": bool(fields.get("refresh_token")),
        }

    def _fields(self, credential: Credential) -> dict[str, Any]:
        # Decrypted once per row and only to read field names and token state.
        cached: dict[str, Any] | None = getattr(credential, "_decrypted", None)
        if cached is None:
            cached = decrypt(credential.secret)
            credential._decrypted = cached  # type: ignore[attr-defined]
        return cached


class CredentialFieldOutSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    secret = serializers.BooleanField()
    required = serializers.BooleanField()  # type: ignore[assignment]  # shadows a Field attribute
    kind = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField(), required=False)


class CredentialTypeOutSerializer(serializers.Serializer[Any]):
    """One credential type: its fields, which are secret, and alternatives (``one_of``)."""

    type = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # shadows a Field attribute
    fields = CredentialFieldOutSerializer(many=True)  # type: ignore[assignment]  # shadows a Field attribute
    one_of = serializers.ListField(child=serializers.CharField())
