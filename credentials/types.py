"""What each credential type holds: its fields, which of them are secret, and their checks.

The API validates what a client sends against these schemas; redaction uses the
``secret`` flags; the UI form and ``GET /api/v1/credentials/types`` describe them.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from linkflow.core.errors import ErrorCode, LinkflowError

from .models import CredentialType

MAX_VALUE_LENGTH = 8192
SMTP_SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    secret: bool = False
    required: bool = False
    # "string", "url" (http or https), "port" (1-65535), "choice", "scopes"
    kind: str = "string"
    choices: tuple[str, ...] = ()
    allow_blank: bool = False

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "secret": self.secret,
            "required": self.required,
            "kind": self.kind,
        }
        if self.choices:
            described["choices"] = list(self.choices)
        return described


@dataclass(frozen=True, slots=True)
class Schema:
    type: str
    fields: tuple[Field, ...]
    # At least one of these must be set (slack: a webhook URL or a bot token).
    one_of: tuple[str, ...] = ()

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "label": CredentialType(self.type).label,
            "fields": [f.describe() for f in self.fields],
            "one_of": list(self.one_of),
        }


PG_SSL_MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
TLS_CHOICES = ("none", "tls")


def _server_fields(*, choices: tuple[str, ...], database: bool = False) -> tuple[Field, ...]:
    """The fields of a database or broker credential: where, who, and how it is secured."""
    return (
        Field("host", required=True),
        Field("port", kind="port"),
        *((Field("database", required=True),) if database else ()),
        Field("username"),
        Field("password", secret=True),
        Field("security", kind="choice", choices=choices),
    )


# Kept by LinkFlow in an oauth2_client credential after the connect flow; never accepted
# from a client, never shown, and redacted like any secret.
OAUTH2_TOKEN_FIELDS = (
    Field("access_token", secret=True),
    Field("refresh_token", secret=True),
    Field("token_type"),
    Field("expires_at", kind="number"),
)

SCHEMAS: dict[str, Schema] = {
    s.type: s
    for s in (
        Schema(
            CredentialType.HTTP_BASIC,
            (
                Field("username", required=True),
                Field("password", secret=True, required=True, allow_blank=True),
            ),
        ),
        Schema(CredentialType.HTTP_BEARER, (Field("token", secret=True, required=True),)),
        Schema(
            CredentialType.HTTP_HEADER,
            (Field("name", required=True), Field("value", secret=True, required=True)),
        ),
        Schema(
            CredentialType.OAUTH2_CLIENT,
            (
                Field("client_id", required=True),
                Field("client_secret", secret=True),
                Field("authorize_url", required=True, kind="url"),
                Field("token_url", required=True, kind="url"),
                Field("scopes", kind="scopes"),
            ),
        ),
        Schema(
            CredentialType.SMTP,
            (
                Field("host", required=True),
                Field("port", required=True, kind="port"),
                Field("username"),
                Field("password", secret=True),
                Field("security", kind="choice", choices=SMTP_SECURITY),
                Field("from"),
            ),
        ),
        Schema(
            CredentialType.SLACK,
            (Field("webhook_url", secret=True, kind="url"), Field("token", secret=True)),
            one_of=("webhook_url", "token"),
        ),
        Schema(CredentialType.POSTGRES, _server_fields(choices=PG_SSL_MODES, database=True)),
        Schema(CredentialType.MYSQL, _server_fields(choices=TLS_CHOICES, database=True)),
        Schema(CredentialType.REDIS, (*_server_fields(choices=TLS_CHOICES), Field("database"))),
        Schema(CredentialType.AMQP, (*_server_fields(choices=TLS_CHOICES), Field("virtual_host"))),
        Schema(CredentialType.MQTT, (*_server_fields(choices=TLS_CHOICES), Field("client_id"))),
        Schema(
            CredentialType.NATS,
            (*_server_fields(choices=TLS_CHOICES), Field("token", secret=True)),
        ),
        Schema(
            CredentialType.S3,
            (
                Field("endpoint_url", kind="url"),
                Field("region"),
                Field("access_key_id", required=True),
                Field("secret_access_key", secret=True, required=True),
                Field("bucket"),
            ),
        ),
        Schema(CredentialType.HMAC_KEY, (Field("key", secret=True, required=True),)),
        Schema(
            CredentialType.WEBHOOK_AUTH,
            (Field("header_name"), Field("token", secret=True), Field("secret", secret=True)),
            one_of=("token", "secret"),
        ),
    )
}


def fields_check(*, type: str, data: Any) -> dict[str, Any]:
    """The fields of a ``type`` credential, checked and normalised (a port as an int).

    Raises a 400 ``validation_error`` whose details name every bad field as
    ``{"data": {"<field>": ["<problem>"]}}`` (or ``{"type": [...]}`` for an unknown type).
    Empty and null values count as absent.
    """
    schema = SCHEMAS.get(type)
    if schema is None:
        raise _invalid({"type": [f"Unknown credential type {type!r}."]})
    if not isinstance(data, dict):
        raise _invalid({"data": ["Must be an object of field values."]})
    problems: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for name, value in data.items():
        field = schema.field(name)
        if field is None:
            problems[name] = [f"Not a field of {type} credentials."]
        elif value is not None and (value != "" or field.allow_blank):
            try:
                clean[name] = _value(field, value)
            except ValueError as error:
                problems[name] = [str(error)]
    for field in schema.fields:
        if field.required and field.name not in clean and field.name not in problems:
            problems[field.name] = ["This field is required."]
    if schema.one_of and not any(name in clean for name in schema.one_of):
        for name in schema.one_of:
            problems.setdefault(name, [f"Give one of: {', '.join(schema.one_of)}."])
    if problems:
        raise _invalid({"data": problems})
    return clean


def secret_values(*, type: str, fields: dict[str, Any]) -> list[str]:
    """The values of the secret fields (the OAuth2 tokens included) that are set."""
    schema = SCHEMAS.get(type)
    specs = (*(schema.fields if schema else ()), *OAUTH2_TOKEN_FIELDS)
    return [str(fields[f.name]) for f in specs if f.secret and fields.get(f.name) not in (None, "")]


def fields_set(*, type: str, fields: dict[str, Any]) -> list[str]:
    """The names of the schema fields that hold a value (never the values)."""
    schema = SCHEMAS.get(type)
    return [f.name for f in (schema.fields if schema else ()) if f.name in fields]


def _value(field: Field, value: Any) -> Any:
    if field.kind == "port":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise ValueError("Must be a port number from 1 to 65535.")
        return value
    if field.kind == "scopes" and isinstance(value, list):
        if not all(isinstance(s, str) and s and " " not in s for s in value):
            raise ValueError("Must be a list of scope names, or one space-separated string.")
        return value
    if not isinstance(value, str):
        raise ValueError("Must be a string.")
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"Must be at most {MAX_VALUE_LENGTH} characters.")
    if field.kind == "url":
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("Must be an http or https URL.")
    if field.kind == "choice" and value not in field.choices:
        raise ValueError(f"Must be one of: {', '.join(field.choices)}.")
    return value


def _invalid(details: dict[str, Any]) -> LinkflowError:
    return LinkflowError(ErrorCode.VALIDATION_ERROR, "Some fields are invalid.", details=details)
