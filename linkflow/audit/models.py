"""The audit log: one row per security-relevant action, never changed after it is written."""

from django.conf import settings
from django.db import models

from linkflow.core.models import BaseModel


class AuditEvent(BaseModel):
    # Null for events outside any workspace (signing in).
    workspace = models.ForeignKey(
        # By name: the audit log is a floor below accounts, which writes to it.
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audit_events",
    )
    # Null for the system (a worker using a credential) or a deleted user.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=64)  # "<entity>.<verb>", e.g. "credential.create"
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="audit_workspace_time"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"
