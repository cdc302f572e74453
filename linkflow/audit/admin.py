from django.contrib import admin

from linkflow.core.admin_readonly import NoAddOrChange

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(NoAddOrChange, admin.ModelAdmin):
    """Read only: the log is evidence, so nobody edits or deletes it here."""

    list_display = ("created_at", "action", "actor", "workspace", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("action", "actor__email", "workspace__name", "=workspace__id", "target_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "workspace")

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
