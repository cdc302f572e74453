"""Credentials: named secrets of a workspace that nodes use (HTTP auth, SMTP, Slack, ...)."""

from django.conf import settings
from django.db import models

from linkflow.accounts.models import Workspace
from linkflow.core.models import BaseModel


class CredentialType(models.TextChoices):
    HTTP_BASIC = "http_basic", "HTTP basic auth"
    HTTP_BEARER = "http_bearer", "HTTP bearer token"
    HTTP_HEADER = "http_header", "HTTP header"
    OAUTH2_CLIENT = "oauth2_client", "OAuth2 client"
    SMTP = "smtp", "SMTP server"
    SLACK = "slack", "Slack"
    WEBHOOK_AUTH = "webhook_auth", "Webhook auth (header token or HMAC secret)"
    POSTGRES = "postgres", "PostgreSQL database"
    MYSQL = "mysql", "MySQL or MariaDB database"
    REDIS = "redis", "Redis server"
    AMQP = "amqp", "AMQP broker (RabbitMQ)"
    MQTT = "mqtt", "MQTT broker"
    NATS = "nats", "NATS server"
    S3 = "s3", "S3-compatible storage"
    HMAC_KEY = "hmac_key", "HMAC signing key"


class Credential(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=32, choices=CredentialType.choices)
    # The fields, encrypted with credentials.crypto; never stored or logged in clear.
    secret = models.TextField(editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="credential_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"
