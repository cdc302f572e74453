from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import HttpRequest

from linkflow.core.admin_readonly import NoAddOrChange

from .models import AuditEvent

# ModelAdmin is generic for the type checker only (without django_stubs_ext at run time).
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[AuditEvent]
else:
    _ModelAdmin = admin.ModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(NoAddOrChange, _ModelAdmin):
    """Read only: the log is evidence, so nobody edits or deletes it here."""

    list_display = ("created_at", "action", "actor", "workspace", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("action", "actor__email", "workspace__name", "=workspace__id", "target_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "workspace")

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
